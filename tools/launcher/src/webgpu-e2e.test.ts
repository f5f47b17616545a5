// End to end with every role on onnxruntime's WebGPU provider: `npm start -- --execution_provider=webgpu`
// trains the bundled 4×4 Sudoku generator a few steps over gRPC (policy, reference and judge on
// WebGPU), and its first step — sampled from the same weights with the same seed — matches the same
// run on the CPU provider. Without a Vulkan adapter it skips with the reason; in CI it must run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { needsWebgpu } from "@grpomesh/onnx-export/testing";
import { npmStart } from "./test/npm-start.ts";

interface StepRecord {
  type: string;
  step: number;
  mean_reward: number;
  loss: number;
  mean_log_prob: number;
}

test("npm start --execution_provider=webgpu: every role on WebGPU trains, and step 1 equals the CPU provider's", { timeout: 600_000 }, async (t) => {
  if (!needsWebgpu(t)) return;
  const dir = mkdtempSync(join(tmpdir(), "grpomesh-webgpu-e2e-"));
  try {
    const runConfig = join(dir, "run.json");
    writeFileSync(
      runConfig,
      JSON.stringify({
        task: "sudoku",
        max_iters: 3,
        batch_size: 4,
        group_size: 4,
        learning_rate: 1e-4,
        warmup_iters: 0,
        kl_beta: 0.01,
        temperature: 1,
        top_p: 1,
        eval_interval: 0,
        eval_batches: 1,
        sample_interval: 0,
        checkpoint_interval: 0,
        warn_kl: 1000,
        warn_frac_zero_std: 1,
      }),
    );
    const steps: Record<string, StepRecord[]> = {};
    for (const provider of ["webgpu", "cpu"]) {
      const runDir = join(dir, provider);
      const output = npmStart(["--task=sudoku", `--execution_provider=${provider}`, "--judges=1", `--run_config=${runConfig}`, `--run_dir=${runDir}`]);
      assert.match(output, /done: 3 steps/);
      steps[provider] = readFileSync(join(runDir, "log.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as StepRecord)
        .filter((r) => r.type === "step");
      assert.deepEqual(
        steps[provider]!.map((r) => r.step),
        [1, 2, 3],
      );
      if (provider === "webgpu") {
        assert.match(output, /grpo-mesh: policy engine: onnxruntime webgpu on .*graph nodes: forward: all \d+ nodes on webgpu; train: 1 of \d+ nodes/);
        assert.match(output, /grpo-mesh: judge provider: webgpu on .*\(all \d+ nodes on webgpu\)/);
        for (const role of ["policy", "reference"]) {
          assert.match(readFileSync(join(runDir, "logs", `${role}.log`), "utf8"), /engine="onnxruntime webgpu on /, `${role} is not on WebGPU`);
        }
        assert.match(readFileSync(join(runDir, "logs", "judge-0.log"), "utf8"), /provider="webgpu on /);
      }
    }
    // Same weights, same seed: the same completions and rewards at step 1, the loss to float32 rounding.
    const [g, c] = [steps.webgpu![0]!, steps.cpu![0]!];
    assert.equal(g.mean_reward, c.mean_reward, "step 1 sampled other completions on WebGPU");
    assert.ok(Math.abs(g.loss - c.loss) <= 1e-4 * Math.max(1, Math.abs(c.loss)), `step 1 loss: webgpu ${g.loss} vs cpu ${c.loss}`);
    assert.ok(
      Math.abs(g.mean_log_prob - c.mean_log_prob) <= 1e-4 * Math.max(1, Math.abs(c.mean_log_prob)),
      `step 1 log-prob: ${g.mean_log_prob} vs ${c.mean_log_prob}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
