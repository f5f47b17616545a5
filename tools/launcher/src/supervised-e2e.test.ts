// The launcher as a cluster would supervise (slow, still in CI): under `npm start`, a judge replica
// killed mid-run is restarted on its address while training goes on; a killed policy stops the
// orchestrator first, the message names the policy, its signal and the --resume command, and that
// command finishes the run from the last checkpoint with the run's own credentials.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCorpus } from "@grpomesh/data";
import { initBackend } from "@grpomesh/model";
import { OrchestratorService, RunState } from "@grpomesh/proto";
import { createClient, loadSecurity } from "@grpomesh/rpc";
import { ROOT } from "./stack.ts";
import { TINY_RUN, writeCharacterJudge, writeTinyGenerator } from "./test-models.ts";

// Long enough that the run is still going when the test kills the policy; the resume shortens it.
const RUN = { ...TINY_RUN, max_iters: 5000, checkpoint_interval: 4 };

const stepsIn = (runDir: string): number[] =>
  existsSync(join(runDir, "log.jsonl"))
    ? readFileSync(join(runDir, "log.jsonl"), "utf8")
        .split("\n")
        .filter((l) => l.includes('"type":"step"'))
        .map((l) => JSON.parse(l).step as number)
    : [];

/** The pid of the one process whose command line holds `needle` (a unique address or path). */
function pidOf(needle: string): number {
  const rows = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" })
    .split("\n")
    .filter((l) => l.includes(needle) && !l.includes(" ps "));
  assert.equal(rows.length, 1, `expected one process with ${needle}: ${rows.join("\n")}`);
  return Number(rows[0]!.trim().split(/\s+/)[0]);
}

async function until(what: string, done: () => boolean, ms = 240_000): Promise<void> {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  assert.ok(done(), `timed out waiting for ${what}`);
}

test(
  "npm start restarts a killed judge replica while training goes on; a killed policy stops the run at a checkpoint, and --resume finishes it",
  { timeout: 600_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "grpomesh-supervised-"));
    try {
      await initBackend(undefined, { log: false });
      const { vocab } = loadCorpus();
      writeTinyGenerator(join(dir, "generator"), vocab.tokens, { seqLen: 32 });
      writeCharacterJudge(join(dir, "judge.onnx"), vocab.tokens, "e", { seqLen: 32 });
      writeFileSync(join(dir, "run.json"), JSON.stringify(RUN));
      const runDir = join(dir, "run");
      const launcherArgs = [
        "--import",
        "tsx",
        join(ROOT, "tools/launcher/src/main.ts"),
        `--generator=${join(dir, "generator")}`,
        `--judge_model=${join(dir, "judge.onnx")}`,
        `--run_config=${join(dir, "run.json")}`,
        `--run_dir=${runDir}`,
      ];

      const launcher = spawn(process.execPath, launcherArgs, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      launcher.stdout!.on("data", (d) => (output += d));
      launcher.stderr!.on("data", (d) => (output += d));
      const exited = new Promise<number | null>((r) => launcher.once("exit", (code) => r(code)));
      try {
        await until("step 3", () => stepsIn(runDir).length >= 3 || launcher.exitCode !== null);
        const stack = JSON.parse(readFileSync(join(runDir, "stack.json"), "utf8"));
        process.kill(pidOf(`--address=${stack.services["judge-1"].address}`), "SIGKILL");
        const atKill = stepsIn(runDir).length;
        await until("judge-1's restart", () => /judge-1 restarted and ready again/.test(output) || launcher.exitCode !== null);
        assert.equal(launcher.exitCode, null, `the launcher stopped:\n${output.slice(-3000)}`);
        const atRestart = stepsIn(runDir).length;
        assert.ok(atRestart > atKill, `no step ran while judge-1 was restarting (${atKill} → ${atRestart})`);
        // stack.json's credentials reach the orchestrator's admin RPCs, as the CLIs use them.
        const client = createClient(OrchestratorService, stack.orchestrator, {
          security: loadSecurity({ tlsDir: stack.tls_dir, adminTokenFile: stack.admin_token_file }),
        });
        try {
          assert.equal((await client.status({})).state, RunState.RUNNING);
          await client.pause({});
          assert.equal((await client.status({})).state, RunState.PAUSED);
          await client.resume({});
        } finally {
          client.close();
        }
        await until("a checkpoint after the restart", () => stepsIn(runDir).length >= atRestart + 5 || launcher.exitCode !== null);
        assert.equal(launcher.exitCode, null, `the launcher stopped early:\n${output.slice(-3000)}`);
        process.kill(pidOf(`--address=${stack.services.policy.address}`), "SIGKILL");
        assert.equal(await exited, 1, output.slice(-3000));
      } finally {
        launcher.kill("SIGKILL");
      }
      assert.match(output, /judge-1 exited unexpectedly \(signal SIGKILL; log .*judge-1\.log\); restarting it in 1\.0 s \(restart 1;/);
      assert.match(output, /policy exited unexpectedly \(signal SIGKILL\); last output:\n(  \| .*\n)+full log: .*policy\.log/);
      assert.match(output, /stopping the orchestrator first, at a step boundary/);
      const hint = /the run's last checkpoint is (\S+); continue with: npm start -- --resume --run_dir=(\S+)/.exec(output);
      assert.ok(hint, `no resume hint in:\n${output.slice(-3000)}`);
      const stoppedAt = stepsIn(runDir);
      assert.deepEqual(
        stoppedAt,
        Array.from({ length: stoppedAt.length }, (_, i) => i + 1),
        "a step was lost or repeated when the judge replica was killed",
      );
      const latest = JSON.parse(readFileSync(join(runDir, "checkpoints", "latest.json"), "utf8"));
      assert.ok(existsSync(join(runDir, "checkpoints", latest.checkpoint, "orchestrator.json")), "the last checkpoint is not intact");
      const token = readFileSync(join(runDir, "secrets", "admin-token"), "utf8");

      const end = latest.step + 4;
      const resumed = spawnSync(process.execPath, [...launcherArgs, "--resume", `--max_iters=${end}`], { cwd: ROOT, encoding: "utf8", timeout: 400_000 });
      const resumedOutput = `${resumed.stdout}\n${resumed.stderr}`;
      assert.equal(resumed.status, 0, resumedOutput.slice(-3000));
      assert.match(resumedOutput, /mTLS on every channel, admin token in .*secrets\/admin-token \(the run's credentials, reused\)/);
      assert.equal(readFileSync(join(runDir, "secrets", "admin-token"), "utf8"), token);
      assert.match(resumedOutput, new RegExp(`resumed from .*${latest.checkpoint} at step ${latest.step}`));
      const final = JSON.parse(readFileSync(join(runDir, "checkpoints", "latest.json"), "utf8"));
      assert.equal(final.step, end);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
