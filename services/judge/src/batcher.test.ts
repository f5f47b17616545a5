import { test } from "node:test";
import assert from "node:assert/strict";
import { CancelledError, MicroBatcher } from "./batcher.ts";
import type { TokenIds } from "./loaded-model.ts";

// The batcher's input is any function from ids to one score per row; row sums make every
// concatenation and split checkable by hand, and the log records what each run received.
function rowSums(log: Array<{ rows: number; seqLen: number }>, delayMs = 5) {
  return async (ids: TokenIds, rows: number, seqLen: number) => {
    log.push({ rows, seqLen });
    await new Promise((r) => setTimeout(r, delayMs));
    const out = new Float32Array(rows);
    for (let i = 0; i < rows; i++) for (let j = 0; j < seqLen; j++) out[i]! += Number(ids[i * seqLen + j]!);
    return out;
  };
}

const ids = (...rows: number[][]) => Int32Array.from(rows.flat());

test("requests that arrive during a run are merged into the next run and get their own rows back", async () => {
  const log: Array<{ rows: number; seqLen: number }> = [];
  const b = new MicroBatcher(rowSums(log), { maxBatch: 100, windowMs: 0 });
  const results = await Promise.all([
    b.submit(ids([1, 1]), 1, 2),
    b.submit(ids([2, 2], [3, 3]), 2, 2),
    b.submit(ids([4, 4]), 1, 2),
    b.submit(ids([5, 5], [6, 6], [7, 7]), 3, 2),
  ]);
  assert.deepEqual(
    results.map((r) => [...r.scores]),
    [[2], [4, 6], [8], [10, 12, 14]],
  );
  // The first runs alone (the queue was idle); the three that queued behind it share one run.
  assert.deepEqual(log, [
    { rows: 1, seqLen: 2 },
    { rows: 6, seqLen: 2 },
  ]);
  assert.equal(results[3]!.batchRows, 6);
  assert.ok(results[3]!.queueSeconds > 0);
  assert.equal(b.pendingRows, 0);
});

test("a window lets an idle queue gather requests; maxBatch closes a batch; seq lengths never mix", async () => {
  const log: Array<{ rows: number; seqLen: number }> = [];
  const b = new MicroBatcher(rowSums(log, 1), { maxBatch: 4, windowMs: 30 });
  const results = await Promise.all([
    b.submit(ids([1, 0]), 1, 2),
    b.submit(ids([1, 1, 1]), 1, 3),
    b.submit(ids([2, 0], [3, 0]), 2, 2),
    b.submit(ids([4, 0], [5, 0]), 2, 2),
    b.submit(ids([2, 2, 2]), 1, 3),
  ]);
  assert.deepEqual(
    results.map((r) => [...r.scores]),
    [[1], [3], [2, 3], [4, 5], [6]],
  );
  assert.deepEqual(log, [
    { rows: 3, seqLen: 2 },
    { rows: 2, seqLen: 3 },
    { rows: 2, seqLen: 2 },
  ]);
});

test("a queue that reaches maxBatch runs without waiting out the window", async () => {
  const log: Array<{ rows: number; seqLen: number }> = [];
  const b = new MicroBatcher(rowSums(log, 1), { maxBatch: 2, windowMs: 60_000 });
  const started = performance.now();
  await Promise.all([b.submit(ids([1]), 1, 1), b.submit(ids([2]), 1, 1)]);
  assert.ok(performance.now() - started < 5_000);
  assert.deepEqual(log, [{ rows: 2, seqLen: 1 }]);
});

test("a failed run rejects each of its requests; the next run still works", async () => {
  let fail = true;
  const b = new MicroBatcher(
    async (values, rows) => {
      await new Promise((r) => setTimeout(r, 2));
      if (fail) throw new Error("run exploded");
      return Float32Array.from({ length: rows }, (_, i) => values[i]! as number);
    },
    { maxBatch: 8, windowMs: 10 },
  );
  const failed = await Promise.allSettled([b.submit(ids([1]), 1, 1), b.submit(ids([2]), 1, 1)]);
  assert.deepEqual(
    failed.map((r) => r.status),
    ["rejected", "rejected"],
  );
  assert.match(String((failed[0] as PromiseRejectedResult).reason), /run exploded/);
  fail = false;
  assert.deepEqual([...(await b.submit(ids([7]), 1, 1)).scores], [7]);
});

test("cancelled requests are dropped before they reach a run; bad jobs are refused", async () => {
  const log: Array<{ rows: number; seqLen: number }> = [];
  const b = new MicroBatcher(rowSums(log, 1), { maxBatch: 4, windowMs: 20 });
  const [gone, kept] = await Promise.allSettled([b.submit(ids([9]), 1, 1, () => true), b.submit(ids([3]), 1, 1, () => false)]);
  assert.ok(gone.status === "rejected" && gone.reason instanceof CancelledError && gone.reason.grpcCode === 1);
  assert.ok(kept.status === "fulfilled" && kept.value.scores[0] === 3);
  assert.deepEqual(log, [{ rows: 1, seqLen: 1 }]);
  assert.throws(() => b.submit(ids([1, 2, 3, 4, 5]), 5, 1), /5 rows does not fit a batch of at most 4/);
  assert.throws(() => b.submit(ids([1, 2, 3]), 1, 2), /3 ids; expected rows × seqLen = 2/);
});

test("int64 ids are concatenated as int64", async () => {
  const seen: string[] = [];
  const b = new MicroBatcher(
    async (values, rows) => {
      seen.push(values.constructor.name);
      await new Promise((r) => setTimeout(r, 1));
      return Float32Array.from({ length: rows }, (_, i) => Number(values[i]!));
    },
    { maxBatch: 8, windowMs: 10 },
  );
  const [a, c] = await Promise.all([b.submit(BigInt64Array.of(5n), 1, 1), b.submit(BigInt64Array.of(6n), 1, 1)]);
  assert.deepEqual([a.scores[0], c.scores[0]], [5, 6]);
  assert.deepEqual(seen, ["BigInt64Array"]);
});

test("with several sessions runs proceed at once and the queue is shared out evenly; without merge each request runs alone", async () => {
  const log: Array<{ rows: number; seqLen: number }> = [];
  let inFlight = 0;
  let most = 0;
  const run = rowSums(log, 5);
  const counted = async (values: TokenIds, rows: number, seqLen: number) => {
    most = Math.max(most, ++inFlight);
    try {
      return await run(values, rows, seqLen);
    } finally {
      inFlight--;
    }
  };
  const merged = new MicroBatcher(counted, { maxBatch: 100, windowMs: 20, concurrentRuns: 2 });
  const six = Array.from({ length: 6 }, (_, i) => merged.submit(ids([i, 1]), 1, 2));
  assert.deepEqual(
    (await Promise.all(six)).map((r) => r.scores[0]),
    [1, 2, 3, 4, 5, 6],
  );
  assert.deepEqual(
    log.map((l) => l.rows),
    [3, 3],
    "six queued rows shared by two idle sessions",
  );
  assert.equal(most, 2);

  log.length = 0;
  most = 0;
  const single = new MicroBatcher(counted, { maxBatch: 100, windowMs: 0, concurrentRuns: 2, merge: false });
  const four = await Promise.all(Array.from({ length: 4 }, (_, i) => single.submit(ids([i, i]), 1, 2)));
  assert.deepEqual(
    four.map((r) => r.scores[0]),
    [0, 2, 4, 6],
  );
  assert.deepEqual(
    log.map((l) => l.rows),
    [1, 1, 1, 1],
  );
  assert.equal(most, 2);
  assert.throws(() => new MicroBatcher(counted, { maxBatch: 1, windowMs: 0, concurrentRuns: 0 }), /concurrentRuns is 0/);
});
