import { test } from "node:test";
import assert from "node:assert/strict";
import { formatMarkdownTable, formatTable, mean, median, percentile, sampleSd } from "./stats.ts";

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

test("sample standard deviation", () => {
  assert.equal(sampleSd([2, 4, 4, 4, 5, 5, 7, 9]), Math.sqrt(32 / 7));
  assert.equal(sampleSd([5, 5]), 0);
  assert.ok(Number.isNaN(sampleSd([1])));
  assert.ok(Number.isNaN(sampleSd([])));
});

test("markdown tables", () => {
  assert.equal(formatMarkdownTable(["a", "b"], [["x", "1"]]), "| a | b |\n| --- | ---: |\n| x | 1 |");
});
