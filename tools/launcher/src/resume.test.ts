// Resume (slow, still in CI): an orchestrator killed with SIGKILL in the middle of a run and
// restarted with --resume continues from its last checkpoint and ends with exactly the weights of
// a run that was never killed (CPU/wasm is deterministic).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCorpus } from "@grpomesh/data";
import { initBackend } from "@grpomesh/model";
import { ROOT, startStack, type Stack } from "./stack.ts";
import { freePort } from "./supervisor.ts";
import { TINY_RUN, writeTinyModels } from "./test-models.ts";

const RUN = { ...TINY_RUN, max_iters: 12, checkpoint_interval: 4 };

function orchestratorArgs(stack: Stack, config: string, runDir: string, port: number, extra: string[] = []): string[] {
  return [
    "--import",
    "tsx",
    join(ROOT, "services/orchestrator/src/main.ts"),
    `--config=${config}`,
    ...stack.orchestratorFlags,
    `--address=127.0.0.1:${port}`,
    `--run_dir=${runDir}`,
    "--progress=log",
    ...extra,
  ];
}

const stepsLogged = (runDir: string) =>
  existsSync(join(runDir, "log.jsonl"))
    ? readFileSync(join(runDir, "log.jsonl"), "utf8")
        .split("\n")
        .filter((l) => l.includes('"type":"step"')).length
    : 0;

test("a run killed mid-way and resumed reaches the same weights as an unbroken run", { timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "grpomesh-resume-"));
  try {
    await initBackend(undefined, { log: false });
    const { vocab } = loadCorpus();
    const { generator, judgeModel } = writeTinyModels(dir, vocab.tokens);
    const config = join(dir, "run.json");
    writeFileSync(config, JSON.stringify(RUN));

    const finalDigest = (runDir: string) =>
      JSON.parse(readFileSync(join(runDir, "checkpoints", "step-000012", "orchestrator.json"), "utf8")).policy.weights_digest as string;

    // 1. The unbroken run.
    const a = await startStack({ generator, judgeModel, judges: 1, checkpointRoot: dir, logDir: join(dir, "logs-a") });
    const unbroken = join(dir, "unbroken");
    try {
      const res = spawnSync(process.execPath, orchestratorArgs(a, config, unbroken, await freePort()), { cwd: ROOT, encoding: "utf8" });
      assert.equal(res.status, 0, res.stderr.slice(-3000));
    } finally {
      await a.supervisor.stopAll();
    }

    // 2. The same run, SIGKILLed after step 6 (last checkpoint: step 4), then resumed.
    const b = await startStack({ generator, judgeModel, judges: 1, checkpointRoot: dir, logDir: join(dir, "logs-b") });
    const broken = join(dir, "broken");
    try {
      const child = spawn(process.execPath, orchestratorArgs(b, config, broken, await freePort()), { cwd: ROOT, stdio: "ignore" });
      const exited = new Promise((r) => child.once("exit", r));
      const until = Date.now() + 240_000;
      while (stepsLogged(broken) < 6 && Date.now() < until && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
      child.kill("SIGKILL");
      await exited;
      const killedAt = stepsLogged(broken);
      assert.ok(killedAt >= 6 && killedAt < 12, `killed after ${killedAt} steps; expected between 6 and 11`);
      assert.ok(!existsSync(join(broken, "checkpoints", "step-000012")));

      const refused = spawnSync(process.execPath, orchestratorArgs(b, config, broken, await freePort()), { cwd: ROOT, encoding: "utf8" });
      assert.notEqual(refused.status, 0);
      assert.match(refused.stderr, /already holds checkpoints.*pass --resume.*step-0000(04|08)|already holds checkpoints.*step-0000(04|08).*pass --resume/);

      const resumed = spawnSync(process.execPath, orchestratorArgs(b, config, broken, await freePort(), ["--resume"]), { cwd: ROOT, encoding: "utf8" });
      assert.equal(resumed.status, 0, resumed.stderr.slice(-3000));
      assert.match(resumed.stdout, /resumed from .*step-0000(04|08) at step (4|8)/);
    } finally {
      await b.supervisor.stopAll();
    }
    assert.equal(finalDigest(broken), finalDigest(unbroken), "resumed run's final weights differ from the unbroken run's");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
