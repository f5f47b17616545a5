import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_MASKING, MaskedBatchStream, fixedEvalBatches, type MaskedBatch, type MaskingSpec } from "./index.ts";

const MASK = 1;
// Ids 2..201 repeating with a long period, so a window's content tells where it came from.
const IDS = Int32Array.from({ length: 5000 }, (_, i) => 2 + ((i * 7919) % 200));

function options(extra: Partial<ConstructorParameters<typeof MaskedBatchStream>[0]> = {}) {
  return { ids: IDS, seqLen: 32, batchSize: 4, seed: 42, masking: DEFAULT_MASKING, maskTokenId: MASK, ...extra };
}

function plain(batch: MaskedBatch) {
  return { inputs: [...batch.inputs], targets: [...batch.targets], mask: [...batch.mask], starts: [...batch.starts] };
}

function checkBatch(batch: MaskedBatch, ids: Int32Array): void {
  const { batchSize: B, seqLen: T } = batch;
  assert.equal(batch.inputs.length, B * T);
  assert.equal(batch.targets.length, B * T);
  assert.equal(batch.mask.length, B * T);
  for (let b = 0; b < B; b++) {
    const start = batch.starts[b]!;
    assert.ok(start >= 0 && start + T <= ids.length);
    assert.deepEqual(batch.targets.subarray(b * T, (b + 1) * T), ids.subarray(start, start + T));
    let masked = 0;
    for (let t = b * T; t < (b + 1) * T; t++) {
      assert.equal(batch.inputs[t], batch.mask[t] ? MASK : batch.targets[t]);
      masked += batch.mask[t]!;
    }
    assert.ok(masked >= 1, "every window has a masked position");
  }
}

test("batches have the right shapes, targets are windows of ids, inputs are targets with [MASK] where masked", () => {
  const stream = new MaskedBatchStream(options());
  for (let i = 0; i < 20; i++) {
    const batch = stream.next();
    assert.equal(batch.index, i);
    assert.deepEqual(batch.cursor, { batch: i + 1, stream: stream.fingerprint });
    checkBatch(batch, IDS);
  }
});

test("same seed gives the same batches; another seed gives others", () => {
  const a = new MaskedBatchStream(options());
  const b = new MaskedBatchStream(options());
  const c = new MaskedBatchStream(options({ seed: 43 }));
  for (let i = 0; i < 10; i++) {
    const x = plain(a.next());
    assert.deepEqual(x, plain(b.next()));
    assert.notDeepEqual(x, plain(c.next()));
  }
});

test("batch n is a pure function of (seed, n): batchAt matches next() and does not move the cursor", () => {
  const s = new MaskedBatchStream(options());
  const fifth = plain(s.batchAt(5));
  assert.deepEqual(s.cursor.batch, 0);
  for (let i = 0; i < 5; i++) s.next();
  assert.deepEqual(plain(s.next()), fifth);
});

test("resuming from a saved cursor (through JSON) continues exactly like an uninterrupted stream", () => {
  const uninterrupted = new MaskedBatchStream(options());
  const expected = Array.from({ length: 12 }, () => plain(uninterrupted.next()));
  assert.notDeepEqual(expected[0], expected[1], "consecutive batches must differ");

  const first = new MaskedBatchStream(options());
  const seen = [];
  let saved = "";
  for (let i = 0; i < 7; i++) {
    const batch = first.next();
    seen.push(plain(batch));
    saved = JSON.stringify(batch.cursor); // what a checkpoint stores after step i
  }
  assert.equal(JSON.stringify(first.cursor), saved);
  const resumed = new MaskedBatchStream(options({ cursor: JSON.parse(saved) }));
  while (seen.length < 12) seen.push(plain(resumed.next()));
  assert.deepEqual(seen, expected);

  // A bare {batch: n} is accepted too; seek moves an existing stream.
  const bare = new MaskedBatchStream(options({ cursor: { batch: 3 } }));
  assert.deepEqual(plain(bare.next()), expected[3]);
  bare.seek({ batch: 10 });
  assert.deepEqual(plain(bare.next()), expected[10]);
});

test("a cursor from a stream with another seed, data, shape or masking is refused", () => {
  const cursor = new MaskedBatchStream(options()).next().cursor;
  const others: Array<[string, Partial<Parameters<typeof options>[0]>]> = [
    ["seed", { seed: 7 }],
    ["data", { ids: IDS.slice(0, 4999) }],
    ["data content", { ids: IDS.map((x, i) => (i === 2500 ? x + 1 : x)) }],
    ["seqLen", { seqLen: 16 }],
    ["batchSize", { batchSize: 8 }],
    ["masking", { masking: { kind: "random", ratio: [0.1, 0.2] } as MaskingSpec }],
  ];
  for (const [what, extra] of others) {
    assert.throws(() => new MaskedBatchStream(options({ ...extra, cursor })), /data cursor was saved from stream ".*" but this stream is ".*"; resume with the same seed/, what);
  }
  assert.throws(() => new MaskedBatchStream(options({ cursor: { batch: -1 } })), /data cursor is \{"batch":-1\}; expected \{"batch": n\}/);
  assert.throws(() => new MaskedBatchStream(options({ cursor: { batch: "3" } as never })), /data cursor is \{"batch":"3"\}/);
});

test("windows cover the data: starts spread over [0, N - T], the last window included", () => {
  const ids = IDS.subarray(0, 100);
  const s = new MaskedBatchStream(options({ ids, seqLen: 90, batchSize: 8 }));
  const starts = new Set<number>();
  for (let i = 0; i < 50; i++) s.next().starts.forEach((x) => starts.add(x));
  assert.deepEqual([...starts].sort((a, b) => a - b), Array.from({ length: 11 }, (_, i) => i));
});

test("the stream refuses bad settings with what to do", () => {
  assert.throws(() => new MaskedBatchStream(options({ ids: IDS.subarray(0, 10) })), /the data has 10 tokens, fewer than seqLen 32/);
  assert.throws(() => new MaskedBatchStream(options({ batchSize: 0 })), /batchSize is 0; expected a positive integer/);
  assert.throws(() => new MaskedBatchStream(options({ ids: [1, 2, 3] as never })), /ids must be an Int32Array/);
  assert.throws(() => new MaskedBatchStream(options({ masking: { kind: "random", ratio: [2, 3] } })), /masking\.ratio is \[2,3\]/);
});

test("fixedEvalBatches: evenly spread windows, fixed masks, same every time", () => {
  const opts = { count: 3, batchSize: 4, seqLen: 50, seed: 1, masking: DEFAULT_MASKING, maskTokenId: MASK };
  const a = fixedEvalBatches(IDS, opts);
  const b = fixedEvalBatches(IDS, opts);
  assert.equal(a.length, 3);
  assert.deepEqual(a.map(plain), b.map(plain));
  a.forEach((batch) => checkBatch(batch, IDS));
  const starts = a.flatMap((batch) => [...batch.starts]);
  assert.equal(starts[0], 0);
  assert.equal(starts.at(-1), IDS.length - 50);
  const gaps = starts.slice(1).map((s, i) => s - starts[i]!);
  assert.ok(gaps.every((g) => Math.abs(g - gaps[0]!) <= 1), `uneven gaps ${gaps}`);
  const other = fixedEvalBatches(IDS, { ...opts, seed: 2 });
  assert.deepEqual(other.map((x) => [...x.starts]), a.map((x) => [...x.starts]), "windows do not depend on the seed");
  assert.notDeepEqual(other.map((x) => [...x.mask]), a.map((x) => [...x.mask]), "masks do");
  assert.deepEqual([...fixedEvalBatches(IDS, { ...opts, count: 1, batchSize: 1 })[0]!.starts], [0]);
  assert.throws(() => fixedEvalBatches(IDS, { ...opts, count: 0 }), /count is 0; expected a positive number of batches/);
});
