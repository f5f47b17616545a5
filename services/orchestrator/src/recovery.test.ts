// What a start does with its run directory: --resume restores the run's saved configuration and
// refuses changes that would alter the training (naming both values), a finished run is left
// alone, and a fresh run never starts over another run. The run directories are written by the
// real trainer (over the loop's tiny in-process ports) with the orchestrator's configuration.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "@grpomesh/data";
import { GrpoTrainer, type GrpoConfig } from "@grpomesh/loop";
import { TINY_MASK, tinyPorts } from "@grpomesh/loop/testing";
import { parseSettings } from "@grpomesh/config";
import { ORCHESTRATOR_ENV_PREFIX, ORCHESTRATOR_SETTINGS } from "./settings.ts";
import { planRun } from "./recovery.ts";

const made: string[] = [];
after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));
const temp = () => {
  const dir = mkdtempSync(join(tmpdir(), "orch-recovery-"));
  made.push(dir);
  return dir;
};

const SMALL = [
  "--task=kjv",
  "--batch_size=2",
  "--group_size=4",
  "--max_iters=6",
  "--checkpoint_interval=2",
  "--eval_interval=0",
  "--sample_interval=0",
  "--warmup_iters=0",
];

/** A run started as `orchestrator ...argv` would start it, trained to `steps` with the loop's tiny ports. */
async function startRun(runDir: string, argv: string[], steps: number, opts: { finish?: boolean } = {}) {
  const plan = planRun([...argv, `--run_dir=${runDir}`]);
  assert.equal(plan.kind, "fresh");
  if (plan.kind !== "fresh") return;
  mkdirSync(runDir, { recursive: true });
  const trainer = new GrpoTrainer(tinyPorts(), plan.config as GrpoConfig, { runDir, maskTokenId: TINY_MASK, configForRecord: plan.config });
  trainer.begin({ config_file: plan.configFile ?? null, config_file_values: plan.configFileValues ?? null });
  if (opts.finish) {
    await trainer.run();
    writeFileSync(join(runDir, "summary.json"), JSON.stringify({ steps: trainer.step }) + "\n");
    return;
  }
  for (let i = 0; i < steps; i++) {
    await trainer.trainStep();
    if (trainer.step % 2 === 0) await trainer.checkpoint();
  }
}

test("--resume restores the run's saved configuration: kl_beta=0.05 continues with 0.05", async () => {
  const runDir = join(temp(), "run");
  await startRun(runDir, [...SMALL, "--kl_beta=0.05"], 3);
  const plan = planRun(["--resume", `--run_dir=${runDir}`]);
  assert.equal(plan.kind, "resume");
  if (plan.kind !== "resume") return;
  assert.equal(plan.config.kl_beta, 0.05);
  assert.equal(plan.config.max_iters, 6);
  assert.equal(plan.choice.chosen.step, 2);
  assert.match(plan.savedFrom, /step-000002\/orchestrator\.json$/);
  assert.deepEqual(plan.changes, []);
});

test("--resume refuses a changed training key, naming both values; safe keys may change", async () => {
  const runDir = join(temp(), "run");
  await startRun(runDir, SMALL, 2);
  assert.throws(
    () => planRun(["--resume", `--run_dir=${runDir}`, "--seed=2", "--kl_beta=0.2"]),
    (e: Error) =>
      /--resume continues the run with its saved configuration \(.*step-000002\/orchestrator\.json\)/.test(e.message) &&
      /  seed: the run uses 1337; the command line or environment gives 2/.test(e.message) &&
      /  kl_beta: the run uses 0\.1; the command line or environment gives 0\.2/.test(e.message) &&
      /Keys a resume may change: max_iters, /.test(e.message),
  );
  assert.throws(
    () => planRun(["--resume", `--run_dir=${runDir}`], { ORCHESTRATOR_LEARNING_RATE: "0.5" }),
    /learning_rate: the run uses 0\.00001; the command line or environment gives 0\.5/,
  );
  const plan = planRun(["--resume", `--run_dir=${runDir}`, "--max_iters=20", "--policy=127.0.0.1:1", "--judge_swap_deadline_ms=1000"]);
  assert.equal(plan.kind, "resume");
  if (plan.kind !== "resume") return;
  assert.deepEqual(plan.changes.map((c) => [c.key, c.saved, c.given]).sort(), [
    ["judge_swap_deadline_ms", 30000, 1000],
    ["max_iters", 6, 20],
    ["policy", "127.0.0.1:50071", "127.0.0.1:1"],
  ]);
  assert.equal(plan.config.max_iters, 20);
});

test("the config file the run started with changes nothing on resume; a key edited in it since is refused, naming the file", async () => {
  const dir = temp();
  const runDir = join(dir, "run");
  const file = join(dir, "local.json");
  writeFileSync(file, JSON.stringify({ kl_beta: 0.1, learning_rate: 1e-4, max_iters: 6 }));
  // Started with the file and a flag over it (as `npm start -- --kl_beta=0.05` does).
  await startRun(runDir, [...SMALL, `--config=${file}`, "--kl_beta=0.05"], 2);
  const plan = planRun(["--resume", `--run_dir=${runDir}`, `--config=${file}`]);
  assert.equal(plan.kind, "resume");
  if (plan.kind === "resume") assert.deepEqual([plan.config.kl_beta, plan.config.learning_rate, plan.changes.length], [0.05, 1e-4, 0]);
  writeFileSync(file, JSON.stringify({ kl_beta: 0.1, learning_rate: 3e-4, max_iters: 6 }));
  assert.throws(
    () => planRun(["--resume", `--run_dir=${runDir}`, `--config=${file}`]),
    new RegExp(`learning_rate: the run uses 0\\.0001; config file ${file} gives 0\\.0003`),
  );
});

test("--resume of a finished run says so and changes nothing; the orchestrator exits 0 without touching a file", async () => {
  const runDir = join(temp(), "run");
  await startRun(runDir, SMALL, 0, { finish: true });
  const plan = planRun(["--resume", `--run_dir=${runDir}`]);
  assert.equal(plan.kind, "finished");
  const snapshot = () => snapshotFiles(runDir);
  const before = snapshot();
  const res = spawnSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, "services/orchestrator/src/main.ts"), "--resume", `--run_dir=${runDir}`], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stdout, /run .* is already finished: step 6 of max_iters 6 .*summary\.json\); nothing to do, nothing was changed/);
  assert.deepEqual(snapshot(), before);
  // A longer schedule is a resume, not a finished run.
  assert.equal(planRun(["--resume", `--run_dir=${runDir}`, "--max_iters=8"]).kind, "resume");
});

test("a fresh run refuses an old run's directory; --resume refuses one it cannot continue", async () => {
  const dir = temp();
  const runDir = join(dir, "run");
  await startRun(runDir, SMALL, 3);
  assert.throws(() => planRun([`--run_dir=${runDir}`]), /already holds checkpoints; pass --resume .*\(it holds step-000002\)/);
  // Checkpoints that all fail their digests: named, and nothing starts.
  writeFileSync(join(runDir, "checkpoints", "step-000002", "policy", "weights.bin"), "tampered");
  assert.throws(
    () => planRun(["--resume", `--run_dir=${runDir}`]),
    /no checkpoint in .* verifies, so the run cannot continue.*\n  step-000002: .*weights\.bin has sha256/s,
  );
  // A log and no checkpoint: starting over would write over it.
  rmSync(join(runDir, "checkpoints"), { recursive: true });
  assert.throws(() => planRun(["--resume", `--run_dir=${runDir}`]), /holds a run's log\.jsonl \(3 steps\) but no checkpoint to continue from/);
  assert.throws(() => planRun([`--run_dir=${runDir}`]), /already holds a run's log\.jsonl/);
  // Nothing there at all: --resume starts fresh and says so.
  const empty = planRun(["--resume", `--run_dir=${join(dir, "empty")}`]);
  assert.equal(empty.kind, "fresh");
  if (empty.kind === "fresh") assert.match(empty.notes[0]!, /holds no run yet .* starting a fresh run/);
});

test("the orchestrator names a run directory it cannot create, and a refused resume, before it connects to anything", async () => {
  const main = join(REPO_ROOT, "services/orchestrator/src/main.ts");
  const run = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", main, ...args], { cwd: REPO_ROOT, encoding: "utf8", timeout: 60_000 });
  const proc = run(["--run_dir=/proc/grpomesh-run", "--policy=127.0.0.1:1"]);
  assert.equal(proc.status, 1);
  assert.match(
    proc.stderr,
    /run directory \/proc\/grpomesh-run cannot be created: \/proc does not allow new folders \(ENOENT from a read-only or virtual file system\)/,
  );
  assert.doesNotMatch(proc.stderr, /ENOENT: no such file or directory, mkdir/);
  const runDir = join(temp(), "run");
  await startRun(runDir, SMALL, 2);
  const seed = run(["--resume", `--run_dir=${runDir}`, "--seed=2", "--policy=127.0.0.1:1"]);
  assert.equal(seed.status, 1);
  assert.match(seed.stderr, /seed: the run uses 1337; the command line or environment gives 2/);
  assert.doesNotMatch(seed.stderr, /cursor/);
});

test("environment variables configure the orchestrator (ORCHESTRATOR_<KEY>); metrics and gRPC bind loopback by default", () => {
  const parse = (argv: string[], env: Record<string, string>) => parseSettings(ORCHESTRATOR_SETTINGS, { argv, env, envPrefix: ORCHESTRATOR_ENV_PREFIX });
  const { config } = parse(["--max_iters=3"], {
    ORCHESTRATOR_KL_BETA: "0.02",
    ORCHESTRATOR_MAX_ITERS: "9",
    ORCHESTRATOR_TLS_DIR: "/secrets/tls",
  });
  assert.deepEqual([config.kl_beta, config.max_iters, config.tls_dir, config.admin_token_file], [0.02, 3, "/secrets/tls", ""]);
  assert.throws(() => parse([], { ORCHESTRATOR_KL_BETA: "lots" }), /environment variable ORCHESTRATOR_KL_BETA/);
  assert.equal(config.metrics_host, "127.0.0.1");
  assert.match(config.address, /^127\.0\.0\.1:/);
});

function snapshotFiles(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const st = statSync(path);
      if (st.isDirectory()) walk(path);
      else out[path] = `${st.mtimeMs}:${readFileSync(path).toString("base64")}`;
    }
  };
  walk(root);
  return out;
}
