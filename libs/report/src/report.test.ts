// The run report from a run directory written here: every chart with data, markers at a judge swap
// and a resume, the samples table, a comparison of two runs, and nothing fetched from anywhere.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPORT_FILE, SMOOTHING_WINDOW, charts, readRun, renderReport, trailingMean, writeRunReport } from "./report.ts";

const root = mkdtempSync(join(tmpdir(), "grpomesh-report-"));
after(() => rmSync(root, { recursive: true, force: true }));

function writeRun(name: string, steps: number, opts: { swapAt?: number; resumeAt?: number; finished?: boolean; pipelined?: boolean } = {}): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const records: object[] = [{ type: "start", step: 0, time: "2026-12-05T00:00:00Z" }];
  records.push({ type: "eval", step: 0, mean_reward: 0.5, accuracy: 0.8, solve_rate: 0.3 });
  for (let s = 1; s <= steps; s++) {
    if (s === opts.resumeAt) records.push({ type: "resume", step: s - 1, time: "2026-12-05T00:01:00Z" });
    records.push({
      type: "step",
      step: s,
      mean_reward: s / steps,
      std_reward: 0.1,
      kl_per_token: 0.001 * s,
      loss: -0.5,
      pg_loss: -0.5,
      kl_penalty: 0.01,
      grad_norm: 2,
      learning_rate: 1e-4,
      frac_zero_std_groups: 0.25,
      judge_version: opts.swapAt && s >= opts.swapAt ? "judge-v2+sha256:2" : "judge-v1+sha256:1",
      phases: { sample_ms: 40, judge_ms: 100, reference_ms: 0, advantage_ms: 1, update_ms: 120, data_ms: 1, step_ms: 262 },
      idle_fraction: { policy: 0.2, reference: 0.8, judge: opts.pipelined ? 0.1 : 0.6 },
      staleness: opts.pipelined && s > 1 ? 1 : 0,
      importance_weight_mean: opts.pipelined && s > 1 ? 0.98 : 1,
      importance_weight_min: opts.pipelined && s > 1 ? 0.7 : 1,
      importance_weight_max: opts.pipelined && s > 1 ? 1.4 : 1,
      importance_weight_capped_frac: 0,
    });
    if (s % 10 === 0) records.push({ type: "samples", step: s, samples: [{ input: "1_3/<b>", completion: "123/<b>", target: "123/<b>", reward: 1.5 }] });
  }
  records.push({ type: "eval", step: steps, mean_reward: 0.9, accuracy: 0.9, solve_rate: 0.6 });
  writeFileSync(join(dir, "log.jsonl"), records.map((r) => JSON.stringify(r)).join("\n") + "\n");
  if (opts.finished)
    writeFileSync(
      join(dir, "summary.json"),
      JSON.stringify({ heldout_reward_before: 0.5, heldout_reward_after: 0.9, heldout_solved_before: 0.3, heldout_solved_after: 0.6 }),
    );
  return dir;
}

test("trailingMean averages the last window values (fewer at the start)", () => {
  assert.deepEqual(trailingMean([1, 2, 3, 4, 5], 2), [1, 1.5, 2.5, 3.5, 4.5]);
  assert.deepEqual(trailingMean([4], SMOOTHING_WINDOW), [4]);
});

test("a run's report: every chart as inline SVG, judge swap and resume marked, samples escaped, nothing external", { timeout: 60_000 }, async () => {
  const dir = writeRun("run-a", 30, { swapAt: 12, resumeAt: 20, finished: true });
  const run = readRun(dir);
  assert.deepEqual(
    run.events.map((e) => `${e.kind}@${e.step}`),
    ["judge swap@12", "resume@19"],
  );
  const titles = charts([run]).map((c) => c.title);
  assert.deepEqual(titles, [
    "Training reward",
    "Held-out reward",
    "Held-out accuracy",
    "KL per token",
    "Loss and its parts",
    "Gradient norm",
    "Learning rate",
    "Zero-variance groups",
    "Step time by phase",
    "Role idle fraction",
  ]);
  const piped = charts([readRun(writeRun("run-piped", 10, { pipelined: true }))]).map((c) => c.title);
  assert.deepEqual(piped.slice(-2), ["Role idle fraction", "Staleness and importance weights"], "a pipelined run shows its staleness");
  const path = await writeRunReport(dir);
  assert.equal(path, join(dir, REPORT_FILE));
  const html = await renderReport([run]);
  assert.equal((html.match(/<svg /g) ?? []).length, titles.length);
  assert.match(html, /judge → judge-v2\+sha256:2/);
  assert.match(html, /resumed at 19/);
  assert.match(html, /30\.0% → 60\.0%/);
  assert.equal((html.match(/<tr><td>\d+<\/td><td><code>/g) ?? []).length, 3, "one samples row per samples record");
  assert.match(html, /<code>1_3\/&lt;b&gt;<\/code>/, "sample text is escaped");
  assert.doesNotMatch(html, /<script|<link|@import|src="http|href="http|url\(http/, "the report loads nothing");
});

test("several runs compare on the same axes; a run without a log is refused with the reason", { timeout: 60_000 }, async () => {
  const html = await renderReport([readRun(writeRun("run-b", 12)), readRun(writeRun("run-c", 8))]);
  assert.match(html, /<title>GRPO runs compared: run-b, run-c<\/title>/);
  assert.match(html, /in progress or stopped/);
  assert.ok(html.includes(">run-b<") && html.includes(">run-c<"), "both runs in the legend and the table");
  assert.throws(() => readRun(join(root, "nowhere")), /has no log\.jsonl: not a run directory/);
});
