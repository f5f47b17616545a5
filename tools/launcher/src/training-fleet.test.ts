// Training with a judge fleet (slow, still in CI): a replica killed mid-run costs no step (none
// lost, none applied twice), and a judge swap through the orchestrator's SwapJudge takes effect at
// a step boundary for every group.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCorpus } from "@grpomesh/data";
import { initBackend } from "@grpomesh/model";
import { OrchestratorService, RunState } from "@grpomesh/proto";
import { createClient, waitForServing } from "@grpomesh/rpc";
import { ROOT, startStack } from "./stack.ts";
import { freePort } from "./supervisor.ts";
import { judgeLabel, TINY_RUN, writeCharacterJudge, writeTinyGenerator } from "./test-models.ts";

const RUN = { ...TINY_RUN, max_iters: 16, checkpoint_interval: 0 };

interface StepLine {
  type: string;
  step: number;
  policy_version: number;
  judge_version: string;
  replayed: boolean;
}

function steps(runDir: string): StepLine[] {
  if (!existsSync(join(runDir, "log.jsonl"))) return [];
  return readFileSync(join(runDir, "log.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.includes('"type":"step"'))
    .map((l) => JSON.parse(l));
}

async function waitForSteps(runDir: string, n: number, child: { exitCode: number | null }): Promise<void> {
  const until = Date.now() + 240_000;
  while (steps(runDir).length < n && Date.now() < until && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  assert.ok(steps(runDir).length >= n, `the run did not reach step ${n}`);
}

async function setup(dir: string) {
  await initBackend(undefined, { log: false });
  const { vocab } = loadCorpus();
  const generator = join(dir, "generator");
  writeTinyGenerator(generator, vocab.tokens, { seqLen: 32 });
  writeCharacterJudge(join(dir, "repo", "e.onnx"), vocab.tokens, "e", { seqLen: 32, version: "e-counter-v1" });
  writeCharacterJudge(join(dir, "repo", "a.onnx"), vocab.tokens, "a", { seqLen: 32, version: "a-counter-v1" });
  const config = join(dir, "run.json");
  writeFileSync(config, JSON.stringify(RUN));
  const stack = await startStack({ generator, judgeModel: join(dir, "repo", "e.onnx"), judges: 2, checkpointRoot: dir, logDir: join(dir, "logs") });
  const port = await freePort();
  const runDir = join(dir, "run");
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      join(ROOT, "services/orchestrator/src/main.ts"),
      `--config=${config}`,
      ...stack.orchestratorFlags,
      `--address=127.0.0.1:${port}`,
      `--run_dir=${runDir}`,
      "--progress=log",
    ],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { stack, child, exited, runDir, orchestrator: `127.0.0.1:${port}`, repo: join(dir, "repo"), output: () => output };
}

function assertEveryStepOnce(lines: StepLine[], n: number): void {
  assert.deepEqual(
    lines.map((s) => s.step),
    Array.from({ length: n }, (_, i) => i + 1),
    "a step was lost or repeated",
  );
  assert.deepEqual(
    lines.map((s) => s.policy_version),
    Array.from({ length: n }, (_, i) => i + 1),
    "an update was applied twice or not at all",
  );
  assert.ok(lines.every((s) => !s.replayed));
}

test("killing a judge replica mid-run loses no step and applies none twice", { timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "grpomesh-kill-"));
  const run = await setup(dir);
  try {
    await waitForSteps(run.runDir, 4, run.child);
    run.stack.supervisor.signal("judge-1", "SIGKILL");
    const code = await run.exited;
    assert.equal(code, 0, run.output().slice(-3000));
    assertEveryStepOnce(steps(run.runDir), 16);
    assert.match(run.output(), /judge chunk of \d+ failed at 127\.0\.0\.1:\d+ .*retrying on another replica/, "the dead replica was never tried");
  } finally {
    run.child.kill("SIGKILL");
    await run.stack.supervisor.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("Status, Pause, Resume, Checkpoint and SwapJudge act on the running loop at step boundaries", { timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "grpomesh-swap-"));
  const run = await setup(dir);
  const client = createClient(OrchestratorService, run.orchestrator, { security: run.stack.clientSecurity });
  try {
    await waitForServing(run.orchestrator, { timeoutMs: 120_000, security: run.stack.clientSecurity });
    await waitForSteps(run.runDir, 2, run.child);
    const status = await client.status({});
    assert.equal(status.state, RunState.RUNNING);
    assert.equal(status.maxSteps, 16);
    assert.ok(status.step >= 2 && status.runDir === run.runDir, JSON.stringify(status));

    const paused = await client.pause({});
    // The step in flight when Pause arrived still finishes; then the loop holds at the boundary.
    const settle = Date.now() + 10_000;
    while (steps(run.runDir).length < paused.step + 1 && Date.now() < settle) await new Promise((r) => setTimeout(r, 20));
    const held = steps(run.runDir).length;
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(steps(run.runDir).length, held, "steps ran while paused");
    assert.ok(held <= paused.step + 1);
    const ckpt = await client.checkpoint({}); // taken at the boundary, while paused
    assert.equal(ckpt.step, held);
    assert.ok(existsSync(join(ckpt.path, "orchestrator.json")) && existsSync(join(ckpt.path, "policy", "model.safetensors")));
    await client.resume({});
    await assert.rejects(client.resume({}), /FAILED_PRECONDITION: the run is not paused/);

    await waitForSteps(run.runDir, held + 1, run.child);
    const res = await client.swapJudge({ path: join(run.repo, "a.onnx"), version: "" });
    assert.equal(res.replicas.length, 2);
    assert.ok(
      res.replicas.every((r) => r.ok && r.modelVersion === judgeLabel(join(run.repo, "a.onnx"), "a-counter-v1")),
      JSON.stringify(res.replicas),
    );
    const code = await run.exited;
    assert.equal(code, 0, run.output().slice(-3000));
    const lines = steps(run.runDir);
    assertEveryStepOnce(lines, 16);
    const at = res.effectiveStep;
    assert.ok(at > held && at <= 16, `effective step ${at}`);
    for (const s of lines)
      assert.equal(
        s.judge_version,
        s.step < at ? judgeLabel(join(run.repo, "e.onnx"), "e-counter-v1") : judgeLabel(join(run.repo, "a.onnx"), "a-counter-v1"),
        `step ${s.step} scored by ${s.judge_version}; swap effective at ${at}`,
      );
  } finally {
    client.close();
    run.child.kill("SIGKILL");
    await run.stack.supervisor.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
});
