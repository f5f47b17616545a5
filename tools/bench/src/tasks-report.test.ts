import { test } from "node:test";
import assert from "node:assert/strict";
import { formatSeconds, meanSd, summarizeRuns, tasksTable, type SeedRun } from "./tasks-report.ts";

const run = (seed: number, after: number, wallS: number): SeedRun => ({
  seed,
  before: { solved: 0.2, accuracy: 0.7 },
  after: { solved: after, accuracy: 0.9 + after / 10 },
  wallS,
  steps: 2000,
});

test("mean ± sample sd over the seeds", () => {
  const s = summarizeRuns([run(1, 0.9, 200), run(2, 0.95, 220), run(3, 1, 240)]);
  assert.ok(Math.abs(s.solved_after.mean - 0.95) < 1e-12);
  assert.ok(Math.abs(s.solved_after.sd - 0.05) < 1e-12, "n − 1 in the denominator");
  assert.equal(s.wall_s.mean, 220);
  assert.ok(Math.abs(s.wall_s.sd - 20) < 1e-12);
  assert.ok(s.solved_before.sd < 1e-12, "the same step-0 numbers on every seed");
  assert.ok(Number.isNaN(meanSd([3]).sd), "no sd of one sample");
});

test("the table: a row per seed, the mean ± sd, and the baseline", () => {
  const table = tasksTable(
    [run(1, 0.9, 200), run(2, 1, 220)],
    [
      { before: { solved: 0.2, accuracy: 0.7 }, after: { solved: 0.35, accuracy: 0.8 }, wallS: 210, steps: 1234, schedule: "lr 0.003 constant" },
      { before: { solved: 0.2, accuracy: 0.7 }, after: { solved: 0.5, accuracy: 0.85 }, wallS: 209, steps: 1234, schedule: "lr 0.003 → 0.0003, cosine" },
    ],
  );
  assert.equal(
    table,
    [
      "| run | held-out solved | per-cell accuracy | wall time | steps |",
      "| --- | ---: | ---: | ---: | ---: |",
      "| GRPO, seed 1 | 20.0% → 90.0% | 70.0% → 99.0% | 3m20s | 2000 |",
      "| GRPO, seed 2 | 20.0% → 100.0% | 70.0% → 100.0% | 3m40s | 2000 |",
      "| GRPO, mean ± sd (2 seeds) | 20.0% ± 0.0 → 95.0% ± 7.1 | 70.0% ± 0.0 → 99.5% ± 0.7 | 3m30s ± 14s | 2000 |",
      "| supervised pretraining, same wall time (lr 0.003 constant) | 20.0% → 35.0% | 70.0% → 80.0% | 3m30s | 1234 |",
      "| supervised pretraining, same wall time (lr 0.003 → 0.0003, cosine) | 20.0% → 50.0% | 70.0% → 85.0% | 3m29s | 1234 |",
    ].join("\n"),
  );
  const one = tasksTable([run(7, 0.5, 59.6)]);
  assert.equal(one.split("\n").length, 3, "one seed: no mean row, no baseline row");
  assert.match(one, /\| GRPO, seed 7 \| 20\.0% → 50\.0% \| 70\.0% → 95\.0% \| 1m00s \| 2000 \|/);
});

test("durations", () => {
  assert.equal(formatSeconds(0.4), "0s");
  assert.equal(formatSeconds(59.4), "59s");
  assert.equal(formatSeconds(61), "1m01s");
  assert.equal(formatSeconds(NaN), "?");
});
