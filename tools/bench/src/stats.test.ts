import { test } from "node:test";
import assert from "node:assert/strict";
import { formatTable, mean, median, percentile } from "./stats.ts";

test("nearest-rank percentiles, the median and the mean", () => {
  const xs = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
  assert.equal(percentile(xs, 50), 5);
  assert.equal(percentile(xs, 99), 10);
  assert.equal(percentile(xs, 0), 1);
  assert.equal(percentile([7], 99), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
  assert.throws(() => percentile(xs, 101), /outside \[0, 100\]/);
  assert.equal(mean([1, 2, 3, 6]), 3);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

test("tables line up", () => {
  assert.equal(
    formatTable(
      ["a", "bb"],
      [
        ["x", "1"],
        ["yyy", "22"],
      ],
    ),
    "a    bb\n---  --\nx     1\nyyy  22",
  );
});
