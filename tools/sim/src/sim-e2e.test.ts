// End to end as root: `npm run sim` on tiny models — two hosts, a delaying proxy, a synchronous and
// a pipelined run — trains across the namespaces, prints the table, and leaves nothing behind; and
// a Ctrl-C during start-up leaves nothing behind either; --cleanup's removal of dead simulations'.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCorpus } from "@grpomesh/data";
import { ROOT, TINY_RUN, writeTinyModels } from "@grpomesh/launcher";
import { initBackend } from "@grpomesh/model";
import { Network, namespaceProblem, networkProblem, removeLeftovers, simNamespaces } from "./netns.ts";

const skip = networkProblem() ?? namespaceProblem();

/** node's arguments for `npm run sim` on the tiny models, one judge, and `extra`. */
function simArgv(m: { generator: string; judgeModel: string; runConfig: string }, extra: string[]): string[] {
  const models = [`--generator=${m.generator}`, `--judge_model=${m.judgeModel}`, `--run_config=${m.runConfig}`];
  return ["--import", "tsx", join(ROOT, "tools/sim/src/main.ts"), ...models, "--judges=1", ...extra];
}

test(
  "npm run sim: a synchronous and a pipelined run across two hosts with added latency, the table, nothing left",
  { skip: skip ?? false, timeout: 300_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "grpomesh-sim-e2e-"));
    try {
      await initBackend(undefined, { log: false });
      const { vocab } = loadCorpus();
      const { generator, judgeModel } = writeTinyModels(dir, vocab.tokens);
      const runConfig = join(dir, "run.json");
      writeFileSync(runConfig, JSON.stringify({ ...TINY_RUN, max_iters: 8, checkpoint_interval: 4 }));
      const json = join(dir, "sim.json");
      const res = spawnSync(process.execPath, simArgv({ generator, judgeModel, runConfig }, ["--latency_ms=3", "--warmup_steps=2", `--json=${json}`]), {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 280_000,
      });
      const out = `${res.stdout}\n${res.stderr}`;
      assert.equal(res.status, 0, out.slice(-4000));
      assert.match(
        out,
        new RegExp(
          `sim: hosts: train 10\\.77\\.0\\.1 \\(policy, reference, orchestrator; namespace gmsim-${res.pid}-train(, core 0)?\\) ↔ judges 10\\.77\\.0\\.2 \\(judges;`,
        ),
      );
      assert.match(out, /\| max_staleness=0 \| 3 ms \| 1 \| [\d.]+ \| 1\.00× \|/);
      assert.match(out, /\| max_staleness=1 \| 3 ms \| 1 \| [\d.]+ \| [\d.]+× \|/);
      const result = JSON.parse(readFileSync(json, "utf8")) as {
        runs: Array<{ steps: number; staleness: number; completed: boolean; overrides: Record<string, string> }>;
      };
      assert.deepEqual(
        result.runs.map((r) => [r.overrides.max_staleness, r.steps, r.completed]),
        [
          ["0", 8, true],
          ["1", 8, true],
        ],
      );
      assert.equal(result.runs[0]!.staleness, 0);
      assert.ok(result.runs[1]!.staleness > 0, "the pipelined run's steps were sampled a version behind");
      assert.deepEqual(
        simNamespaces().filter((n) => n.startsWith(`gmsim-${res.pid}-`)),
        [],
        "every namespace made is gone",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "npm run sim: Ctrl-C while a run's services start stops it there — exit 130, no run started after, no namespace, process or work folder left",
  { skip: skip ?? false, timeout: 120_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "grpomesh-sim-e2e-"));
    try {
      await initBackend(undefined, { log: false });
      const { generator, judgeModel } = writeTinyModels(dir, loadCorpus().vocab.tokens);
      const runConfig = join(dir, "run.json");
      // long enough that a run started despite the signal would outlast the test's wait
      writeFileSync(runConfig, JSON.stringify({ ...TINY_RUN, max_iters: 100_000 }));
      const tmp = join(dir, "tmp"); // the simulation's own work folder lands here
      mkdirSync(tmp);
      const child = spawn(process.execPath, simArgv({ generator, judgeModel, runConfig }, ["--latency_ms=2"]), {
        cwd: ROOT,
        env: { ...process.env, TMPDIR: tmp },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stderr.on("data", (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      await new Promise<void>((resolve) =>
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          // the services are being started: no orchestrator yet
          if (/sim: run 1\/2/.test(out)) resolve();
        }),
      );
      child.kill("SIGINT");
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([exited, new Promise<string>((r) => (timer = setTimeout(() => r("still running 60 s after SIGINT"), 60_000)))]);
      clearTimeout(timer);
      if (typeof code === "string") {
        child.kill("SIGINT"); // a second one stops everything at once
        await exited;
      }
      assert.equal(code, 130, out.slice(-3000));
      assert.match(out, /SIGINT: stopping/);
      assert.match(out, /stopped before any run ended/);
      assert.doesNotMatch(out, /sim: run 2\/2|steps\/s, held-out/);
      assert.deepEqual(
        simNamespaces().filter((n) => n.startsWith(`gmsim-${child.pid}-`)),
        [],
        "every namespace made is gone",
      );
      assert.deepEqual(
        readdirSync(tmp).filter((f) => f.startsWith("grpomesh-sim-")),
        [],
        "the work folder is removed",
      );
      let left = "";
      try {
        left = execFileSync("pgrep", ["-f", tmp], { encoding: "utf8" });
      } catch {
        // pgrep exits 1 when nothing matches
      }
      assert.equal(left.trim(), "", "no service of the simulation is left running");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

// Here, not beside the hosts' test: a simulation started by the tests above removes every dead simulation's namespaces too.
test("--cleanup removes a dead simulation's namespaces and stops what runs in them, and leaves a live one's", { skip: skip ?? false }, async () => {
  const dead = "gmsim-999999999-train"; // no such pid
  execFileSync("ip", ["netns", "add", dead]);
  // a service a kill -9 left running in its host
  const orphan = spawn("ip", ["netns", "exec", dead, "sleep", "60"], { stdio: "ignore" });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => orphan.on("exit", (_code, signal) => resolve(signal)));
  await new Promise((resolve) => orphan.on("spawn", resolve));
  for (let i = 0; i < 50 && !execFileSync("ip", ["netns", "pids", dead], { encoding: "utf8" }).trim(); i++) await new Promise((r) => setTimeout(r, 20));
  const live = Network.create({ layout: "1host", bandwidth: null, pin: false });
  try {
    const removed = removeLeftovers();
    assert.ok(removed.namespaces.includes(dead), `removed ${removed.namespaces.join(", ")}`);
    assert.equal(removed.processes, 1);
    assert.equal(await exited, "SIGKILL");
    assert.ok(!simNamespaces().includes(dead));
    assert.ok(simNamespaces().includes(live.hosts.train.ns), "this process's own namespace stays");
  } finally {
    orphan.kill("SIGKILL");
    live.remove();
    execFileSync("sh", ["-c", `ip netns del ${dead} 2>/dev/null || true`]);
  }
});
