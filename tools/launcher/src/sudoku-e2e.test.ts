// End to end on the verifiable task (slow, still in CI): a tiny 4×4 Sudoku generator is pretrained
// for a few seconds on puzzle → solution pairs (tools/pretrain), then `npm start -- --task=sudoku`
// trains it with GRPO over gRPC against the rule judge (libs/sudoku, an ONNX graph), and the
// held-out solve rate — checked by the TypeScript verifier, not the judge — must rise.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSettings } from "@grpomesh/config";
import { buildRuleJudge } from "@grpomesh/sudoku/rule-judge";
import { PRETRAIN_SETTINGS, pretrain } from "@grpomesh/pretrain";
import { npmStart } from "./test/npm-start.ts";

test("npm start --task=sudoku: GRPO over gRPC raises a tiny generator's held-out solve rate", { timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "grpomesh-sudoku-e2e-"));
  try {
    const generator = join(dir, "generator");
    const flags = [
      "--task=sudoku",
      "--blanks=6",
      "--n_layer=2",
      "--n_head=4",
      "--d_model=64",
      "--d_ff=256",
      "--local_init=0",
      "--batch_size=64",
      "--max_steps=150",
    ];
    const recipe = parseSettings(PRETRAIN_SETTINGS, {
      argv: [...flags, "--learning_rate=3e-3", "--eval_batches=1", "--eval_batch_size=8", `--out=${generator}`],
    }).config;
    await pretrain(recipe, () => {});
    const judgeModel = join(dir, "judge.onnx");
    writeFileSync(judgeModel, buildRuleJudge({ size: 4, dense: 1, bonus: 1, version: "test-rule" }));
    const runConfig = join(dir, "run.json");
    writeFileSync(
      runConfig,
      JSON.stringify({
        task: "sudoku",
        blanks: 6,
        max_iters: 250,
        batch_size: 16,
        group_size: 8,
        learning_rate: 1e-3,
        warmup_iters: 5,
        kl_beta: 0.01,
        temperature: 1,
        top_p: 1,
        eval_interval: 0,
        eval_batches: 16,
        sample_interval: 0,
        checkpoint_interval: 0,
        warn_kl: 1000,
      }),
    );
    const runDir = join(dir, "run");
    const output = npmStart([`--generator=${generator}`, `--judge_model=${judgeModel}`, `--run_config=${runConfig}`, `--run_dir=${runDir}`, "--judges=1"]);
    assert.match(output, /check: task sudoku: 4×4 Sudoku, 6 blanks per puzzle/);
    const summary = JSON.parse(readFileSync(join(runDir, "summary.json"), "utf8"));
    // 256 held-out puzzles; a rise of at least 8 of them is far outside sampling noise of one fixed set.
    assert.ok(
      summary.heldout_solved_after >= summary.heldout_solved_before + 8 / 256,
      `held-out solve rate ${summary.heldout_solved_before} → ${summary.heldout_solved_after}\n${output.slice(-2000)}`,
    );
    assert.ok(
      summary.heldout_accuracy_after > summary.heldout_accuracy_before,
      `per-cell accuracy ${summary.heldout_accuracy_before} → ${summary.heldout_accuracy_after}`,
    );
    assert.match(output, /held-out solved\s+[\d.]+% → [\d.]+% \(the task's verifier: task sudoku\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
