import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "@grpomesh/rng";
import { DEFAULT_MASKING, checkMasking, drawMask, type MaskingSpec } from "./index.ts";

function runs(mask: Uint8Array): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] && (i === 0 || !mask[i - 1])) out.push([i, 1]);
    else if (mask[i]) out[out.length - 1]![1]++;
  }
  return out;
}

const count = (mask: Uint8Array) => mask.reduce((a, b) => a + b, 0);

test("random masking masks round(ratio·T) positions with the ratio drawn from the range", () => {
  const rng = new Rng(1);
  const spec: MaskingSpec = { kind: "random", ratio: [0.15, 0.5] };
  const T = 200;
  let total = 0;
  const windows = 2000;
  for (let i = 0; i < windows; i++) {
    const n = count(drawMask(spec, T, rng));
    assert.ok(n >= 30 && n <= 100, `masked ${n} of ${T}`);
    total += n;
  }
  const meanRatio = total / windows / T;
  assert.ok(Math.abs(meanRatio - 0.325) < 0.01, `mean ratio ${meanRatio}`);
});

test("every window masks at least one position, even at ratio 0 or a length-1 window", () => {
  const rng = new Rng(2);
  for (let i = 0; i < 50; i++) {
    assert.equal(count(drawMask({ kind: "random", ratio: [0, 0] }, 128, rng)), 1);
    assert.equal(count(drawMask({ kind: "random", ratio: [0, 1] }, 1, rng)), 1);
    assert.ok(count(drawMask(DEFAULT_MASKING, 1, rng)) === 1);
  }
});

test("random positions are spread over the whole window", () => {
  const rng = new Rng(3);
  const hits = new Uint32Array(64);
  for (let i = 0; i < 4000; i++) drawMask({ kind: "random", ratio: [0.25, 0.25] }, 64, rng).forEach((m, t) => (hits[t] += m));
  // Each position is masked with probability 1/4: 1000 expected, sd ≈ 27.
  for (const h of hits) assert.ok(h > 850 && h < 1150, `position hit ${h} times`);
});

test("span masking draws contiguous spans of the given count and lengths (clipped to the window)", () => {
  const rng = new Rng(4);
  for (let i = 0; i < 200; i++) {
    const one = drawMask({ kind: "spans", count: [1, 1], length: [5, 5] }, 40, rng);
    assert.deepEqual(runs(one).map(([, len]) => len), [5]);
    const several = drawMask({ kind: "spans", count: [2, 3], length: [1, 4] }, 100, rng);
    const n = count(several);
    assert.ok(n >= 1 && n <= 12, `masked ${n}`);
    assert.ok(runs(several).length <= 3);
  }
  assert.equal(count(drawMask({ kind: "spans", count: [1, 1], length: [50, 50] }, 8, rng)), 8);
});

test("mix picks one strategy per window in proportion to the weights", () => {
  const rng = new Rng(5);
  const spec: MaskingSpec = {
    kind: "mix",
    parts: [
      { weight: 3, masking: { kind: "random", ratio: [1, 1] } },
      { weight: 1, masking: { kind: "spans", count: [1, 1], length: [1, 1] } },
    ],
  };
  let full = 0;
  const windows = 4000;
  for (let i = 0; i < windows; i++) {
    const n = count(drawMask(spec, 16, rng));
    assert.ok(n === 16 || n === 1);
    if (n === 16) full++;
  }
  assert.ok(Math.abs(full / windows - 0.75) < 0.03, `random part chosen ${full} of ${windows}`);
});

test("the same Rng state gives the same mask; drawMask writes into a given buffer", () => {
  const a = new Rng(9), b = new Rng(9);
  const out = new Uint8Array(300).fill(7);
  for (let i = 0; i < 20; i++) {
    const m = drawMask(DEFAULT_MASKING, 300, a, out);
    assert.equal(m, out);
    assert.deepEqual(m, drawMask(DEFAULT_MASKING, 300, b));
  }
  assert.throws(() => drawMask(DEFAULT_MASKING, 10, a, new Uint8Array(9)), /mask buffer has length 9; expected seqLen 10/);
});

test("checkMasking names the bad field and what it expects", () => {
  checkMasking(DEFAULT_MASKING);
  assert.throws(() => checkMasking({ kind: "random", ratio: [0.5, 0.2] }), /^Error: masking\.ratio is \[0\.5,0\.2\]; expected \[lo, hi\] with 0 <= lo <= hi <= 1$/);
  assert.throws(() => checkMasking({ kind: "spans", count: [0, 2], length: [1, 2] }), /masking\.count is \[0,2\]; expected \[min, max\] integers with 1 <= min <= max/);
  assert.throws(() => checkMasking({ kind: "spans", count: [1, 2], length: [1.5, 2] }), /masking\.length is \[1\.5,2\]/);
  assert.throws(() => checkMasking({ kind: "mix", parts: [] }), /masking\.parts is \[\]; expected a non-empty array/);
  assert.throws(
    () => checkMasking({ kind: "mix", parts: [{ weight: 1, masking: { kind: "random", ratio: [0, 2] } }] }),
    /masking\.parts\[0\]\.masking\.ratio is \[0,2\]/,
  );
  assert.throws(() => checkMasking({ kind: "mix", parts: [{ weight: 0, masking: DEFAULT_MASKING }] }), /masking\.parts\[0\]\.weight is 0; expected a positive number/);
  assert.throws(() => checkMasking({ kind: "blocks" } as never), /masking\.kind is "blocks"; expected "random", "spans" or "mix"/);
});
