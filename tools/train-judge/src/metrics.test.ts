import { test } from "node:test";
import assert from "node:assert/strict";
import { accuracy, rocAuc } from "./metrics.ts";

test("accuracy thresholds logits at 0", () => {
  assert.equal(accuracy([2, -1, 0.5, -3], [1, 0, 0, 1]), 0.5);
  assert.equal(accuracy([0], [0]), 1);
});

test("AUC is 1 for a perfect ranking, 0 for a reversed one, and counts ties as half", () => {
  assert.equal(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
  assert.equal(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0);
  assert.equal(rocAuc([1, 1, 1, 1], [0, 1, 0, 1]), 0.5);
  // Pairs (pos, neg): (0.6 vs 0.5 ✓)(0.6 vs 0.7 ✗)(0.9 vs 0.5 ✓)(0.9 vs 0.7 ✓) → 3/4.
  assert.equal(rocAuc([0.5, 0.6, 0.7, 0.9], [0, 1, 0, 1]), 0.75);
  // A tie between a positive and a negative: (0.5 vs 0.5 = ½)(0.8 vs 0.5 ✓) → 1.5/2.
  assert.equal(rocAuc([0.5, 0.5, 0.8], [0, 1, 1]), 0.75);
});

test("AUC refuses a single class", () => {
  assert.throws(() => rocAuc([1, 2], [1, 1]), /AUC needs both classes; got 2 positives and 0 negatives/);
});
