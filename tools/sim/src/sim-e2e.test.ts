// End to end as root: `npm run sim` on tiny models — two hosts, a delaying proxy, a synchronous and
// a pipelined run — trains across the namespaces, prints the table, and leaves nothing behind.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCorpus } from "@grpomesh/data";
import { ROOT, TINY_RUN, writeTinyModels } from "@grpomesh/launcher";
import { initBackend } from "@grpomesh/model";
import { namespaceProblem, networkProblem, simNamespaces } from "./netns.ts";

const skip = networkProblem() ?? namespaceProblem();

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
      const before = simNamespaces();
      const res = spawnSync(
        process.execPath,
        [
          "--import",
          "tsx",
          join(ROOT, "tools/sim/src/main.ts"),
          `--generator=${generator}`,
          `--judge_model=${judgeModel}`,
          `--run_config=${runConfig}`,
          "--judges=1",
          "--latency_ms=3",
          "--warmup_steps=2",
          `--json=${json}`,
        ],
        { cwd: ROOT, encoding: "utf8", timeout: 280_000 },
      );
      const out = `${res.stdout}\n${res.stderr}`;
      assert.equal(res.status, 0, out.slice(-4000));
      assert.match(
        out,
        /sim: hosts: train 10\.77\.0\.1 \(policy, reference, orchestrator; namespace gmsim-\d+-train(, core 0)?\) ↔ judges 10\.77\.0\.2 \(judges;/,
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
      assert.deepEqual(simNamespaces(), before, "every namespace made is gone");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
