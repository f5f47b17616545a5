// End to end with two judges: `npm start -- --judge_model="e=…;t@0.5=…"` starts a replica of each
// judge model, hands the orchestrator both fleets, and every step's reward is the weighted sum of
// the two judges' scores, each judge's mean and version in every step and eval record.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadCorpus } from "@grpomesh/data";
import { initBackend } from "@grpomesh/model";
import { judgeLabel, writeCharacterJudge, writeTinyGenerator } from "./test-models.ts";
import { npmStart } from "./test/npm-start.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

test("npm start with two weighted judges: the reward is their weighted sum, both in every record", { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "grpomesh-two-judges-"));
  try {
    await initBackend(undefined, { log: false });
    const { vocab } = loadCorpus();
    const generator = join(dir, "generator");
    writeTinyGenerator(generator, vocab.tokens, { seqLen: 32 });
    const models = { e: join(dir, "e.onnx"), t: join(dir, "t.onnx") };
    writeCharacterJudge(models.e, vocab.tokens, "e", { seqLen: 32, version: "e-v1" });
    writeCharacterJudge(models.t, vocab.tokens, "t", { seqLen: 32, version: "t-v1" });
    const runConfig = join(dir, "run.json");
    writeFileSync(
      runConfig,
      JSON.stringify({
        task: "kjv",
        max_iters: 3,
        batch_size: 4,
        group_size: 4,
        eval_interval: 3,
        eval_batches: 1,
        sample_interval: 0,
        checkpoint_interval: 0,
      }),
    );
    const runDir = join(dir, "run");
    const output = npmStart([
      `--generator=${generator}`,
      `--judge_model=e=${models.e};t@0.5=${models.t}`,
      "--judges=1",
      `--run_config=${runConfig}`,
      `--run_dir=${runDir}`,
    ]);
    for (const name of ["judge-e-0", "judge-t-0"]) assert.match(output, new RegExp(`${name}\\s+ready`));
    const stack = JSON.parse(readFileSync(join(runDir, "stack.json"), "utf8"));
    assert.equal(stack.judges, `e=${stack.services["judge-e-0"].address};t@0.5=${stack.services["judge-t-0"].address}`);

    const versions = { e: judgeLabel(models.e, "e-v1"), t: judgeLabel(models.t, "t-v1") };
    const records = readFileSync(join(runDir, "log.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const steps = records.filter((r) => r.type === "step");
    const evals = records.filter((r) => r.type === "eval");
    assert.equal(steps.length, 3);
    assert.ok(evals.length >= 1);
    for (const r of [...steps, ...evals]) {
      assert.deepEqual(r.judge_versions, versions, JSON.stringify(r));
      const { e, t } = r.judge_rewards as { e: number; t: number };
      assert.ok(Math.abs(r.mean_reward - (e + 0.5 * t)) < 1e-4, `mean_reward ${r.mean_reward} is e + 0.5·t = ${e + 0.5 * t}`);
      // The two judges reward different characters: their means differ, so a sum that dropped one would not match.
      assert.notEqual(e.toFixed(4), t.toFixed(4));
    }
    for (const s of steps) assert.equal(s.judge_version, `e=${versions.e},t=${versions.t}`);
    // The evaluation line shows each judge's mean beside the weighted sum.
    assert.match(output, /eval @ step 3: .*reward -?[\d.]+ \(e -?[\d.]+, t -?[\d.]+\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
