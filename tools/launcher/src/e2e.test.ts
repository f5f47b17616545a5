// End to end (slow, still in CI): `npm start`'s launcher runs a short real GRPO training over gRPC
// — two judge processes, reference, policy, orchestrator — on a tiny generator and a judge that
// rewards one character, and the run must learn: rewards rise, the policy's weights change, the
// reference's and the judge's do not.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadCorpus } from "@grpomesh/data";
import { sha256File as sha256 } from "@grpomesh/loop";
import { initBackend } from "@grpomesh/model";
import { judgeLabel, writeCharacterJudge, writeTinyGenerator } from "./test-models.ts";
import { npmStart } from "./test/npm-start.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

test("npm start's stack trains a tiny policy over gRPC and the judge's reward rises", { timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "grpomesh-e2e-"));
  try {
    await initBackend(undefined, { log: false });
    const { vocab } = loadCorpus();
    const generator = join(dir, "generator");
    const initialDigest = writeTinyGenerator(generator, vocab.tokens, { seqLen: 32 });
    const judgeModel = join(dir, "judge", "model.onnx");
    writeCharacterJudge(judgeModel, vocab.tokens, "e", { seqLen: 32 });
    const judgeDigest = sha256(judgeModel);
    const runConfig = join(dir, "run.json");
    writeFileSync(
      runConfig,
      JSON.stringify({
        task: "kjv",
        max_iters: 24,
        batch_size: 8,
        group_size: 4,
        learning_rate: 0.03,
        warmup_iters: 2,
        kl_beta: 0.01,
        eval_interval: 12,
        eval_batches: 2,
        sample_interval: 12,
        checkpoint_interval: 12,
        temperature: 1.0,
        top_p: 1.0,
        warn_kl: 1000,
      }),
    );
    const runDir = join(dir, "run");
    const output = npmStart([`--generator=${generator}`, `--judge_model=${judgeModel}`, `--run_config=${runConfig}`, `--run_dir=${runDir}`]);
    for (const name of ["judge-0", "judge-1", "reference", "policy"])
      assert.match(output, new RegExp(`${name}\\s+ready \\([\\d.]+s\\) — gRPC 127\\.0\\.0\\.1:\\d+, metrics http://127\\.0\\.0\\.1:\\d+/metrics`));
    assert.match(output, /stopped all processes/);
    // Secured by default: one line says so, and every service's start line shows mTLS and the token.
    assert.match(output, /grpo-mesh: mTLS on every channel, admin token in .*run\/secrets\/admin-token/);
    for (const name of ["judge-0", "judge-1", "reference", "policy"])
      assert.match(readFileSync(join(runDir, "logs", `${name}.log`), "utf8"), /: serving .* tls=mtls admin=token/, name);
    // stack.json tells the CLIs where everything is and which credentials to use.
    const stack = JSON.parse(readFileSync(join(runDir, "stack.json"), "utf8"));
    assert.deepEqual(Object.keys(stack.services).sort(), ["judge-0", "judge-1", "orchestrator", "policy", "reference"]);
    for (const s of Object.values(stack.services) as Array<{ address: string; metrics: number }>)
      assert.ok(/^127\.0\.0\.1:\d+$/.test(s.address) && s.metrics > 0, JSON.stringify(s));
    assert.equal(stack.orchestrator, stack.services.orchestrator.address);
    assert.equal(stack.tls_dir, join(runDir, "secrets", "client"));
    assert.equal(stack.admin_token_file, join(runDir, "secrets", "admin-token"));
    // the launcher says which engine trains and why; here "auto" finds no GPU engine
    assert.match(output, /grpo-mesh: policy engine: onnxruntime cpu, \d+ threads \(auto: onnxruntime on the CPU is the fastest CPU engine/);

    const records = readFileSync(join(runDir, "log.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const steps = records.filter((r) => r.type === "step");
    assert.equal(steps.length, 24);
    const avg = (rs: Array<{ mean_reward: number }>) => rs.reduce((s, r) => s + r.mean_reward, 0) / rs.length;
    const early = avg(steps.slice(0, 4));
    const late = avg(steps.slice(-4));
    assert.ok(late > early + 0.05, `training reward did not rise: first 4 steps ${early.toFixed(4)}, last 4 ${late.toFixed(4)}`);

    const summary = JSON.parse(readFileSync(join(runDir, "summary.json"), "utf8"));
    assert.ok(
      summary.heldout_reward_after > summary.heldout_reward_before,
      `held-out reward ${summary.heldout_reward_before} → ${summary.heldout_reward_after}`,
    );
    assert.equal(summary.policy_weights_changed, true);
    assert.equal(summary.reference_unchanged, true);
    // The run's report, written at the end: its charts, and its path in the closing summary.
    const report = readFileSync(join(runDir, "report.html"), "utf8");
    assert.ok((report.match(/<svg /g) ?? []).length >= 8, "report.html lacks its charts");
    assert.match(output, /report +\S+report\.html/);
    // The judge is frozen: its file is untouched and every step was scored by the one version.
    assert.equal(sha256(judgeModel), judgeDigest);
    assert.deepEqual([...new Set(steps.map((s) => s.judge_version))], [judgeLabel(judgeModel, "e-counter-v1")]);
    // The policy's checkpoint differs from the initial weights; the initial checkpoint is untouched.
    const finalCkpt = JSON.parse(readFileSync(join(summary.checkpoint, "orchestrator.json"), "utf8"));
    assert.notEqual(finalCkpt.policy.weights_digest, initialDigest);
    assert.equal(finalCkpt.step, 24);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
