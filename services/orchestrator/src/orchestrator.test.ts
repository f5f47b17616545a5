import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaults, parseSettings } from "@grpomesh/config";
import { resumeConfig } from "./config.ts";
import { ORCHESTRATOR_SETTINGS, orchestratorRelations } from "./settings.ts";
import { resolveJudgeTargets } from "./judge-fleet.ts";
import { formatDuration } from "./progress.ts";

const parseOrchestratorConfig = (argv: string[]) => parseSettings(ORCHESTRATOR_SETTINGS, { argv, check: orchestratorRelations });

test("config: file, then --key=value overrides; unknown keys, bad types and bad relations refused; /metrics is off by default and turned off only by off", () => {
  const dir = mkdtempSync(join(tmpdir(), "orch-cfg-"));
  try {
    const file = join(dir, "run.json");
    writeFileSync(file, JSON.stringify({ max_iters: 7, learning_rate: 3e-4 }));
    const { config } = parseOrchestratorConfig([`--config=${file}`, "--learning_rate=1e-4", "--judges=a:1,b:2"]);
    assert.equal(config.max_iters, 7);
    assert.equal(config.learning_rate, 1e-4);
    assert.equal(config.judges, "a:1,b:2");
    assert.equal(config.group_size, defaults(ORCHESTRATOR_SETTINGS).group_size);
    assert.equal(config.metrics_port, "off");
    assert.equal(parseOrchestratorConfig(["--metrics_port=0"]).config.metrics_port, 0);
    assert.throws(() => parseOrchestratorConfig(["--metrics_port=-1"]), /option --metrics_port is -1; expected "off" or an integer in \[0, 65535\]/);
    assert.throws(() => parseOrchestratorConfig(["--batch_size=6", "--micro_batch_size=4"]), /batch_size 6 is not a multiple of micro_batch_size 4/);
    assert.throws(() => parseOrchestratorConfig(["--lerning_rate=1"]), /unknown option --lerning_rate; did you mean --learning_rate\?/);
    assert.throws(() => parseOrchestratorConfig(["--max_iters=1.5"]), /max_iters/);
    assert.throws(() => parseOrchestratorConfig(["--kl_estimator=k2"]), /exact, k1, k3/);
    assert.throws(() => parseOrchestratorConfig(["--group_size=1"]), /group_size is 1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("judge targets: a static list, a file of addresses, a DNS name", async () => {
  assert.deepEqual(await resolveJudgeTargets("127.0.0.1:1, 127.0.0.1:2"), ["127.0.0.1:1", "127.0.0.1:2"]);
  const dir = mkdtempSync(join(tmpdir(), "orch-judges-"));
  try {
    writeFileSync(join(dir, "judges.txt"), "# replicas\n10.0.0.1:50051\n10.0.0.2:50051, 10.0.0.3:50051\n");
    assert.deepEqual(await resolveJudgeTargets(`@${join(dir, "judges.txt")}`), ["10.0.0.1:50051", "10.0.0.2:50051", "10.0.0.3:50051"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const resolved = await resolveJudgeTargets("dns:///localhost:50051");
  // Addresses, not the name: 127.0.0.1:50051 and/or [::1]:50051.
  assert.ok(resolved.length >= 1 && resolved.every((a) => /^(\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\]):50051$/.test(a)), JSON.stringify(resolved));
});

test("durations read as a person would say them", () => {
  assert.equal(formatDuration(42_000), "42s");
  assert.equal(formatDuration(125_000), "2m05s");
  assert.equal(formatDuration(3_725_000), "1h02m");
  assert.equal(formatDuration(NaN), "?");
});

test("resumeConfig: a saved value its row refuses is ignored when the key is resume-safe (an old metrics_port -1), corrupt otherwise; the command line's changes are named", () => {
  const saved = { ...defaults(ORCHESTRATOR_SETTINGS), metrics_port: -1, gone_key: 3, max_iters: 10 };
  const r = resumeConfig({ argv: ["--max_iters=20", "--seed=1337"], saved, savedFrom: "orchestrator.json" });
  assert.deepEqual(r.ignoredKeys, ["metrics_port", "gone_key"]);
  assert.equal(r.config.metrics_port, "off");
  assert.deepEqual(r.changes, [{ key: "max_iters", saved: 10, given: 20, source: "the command line or environment" }]);
  assert.throws(
    () => resumeConfig({ argv: [], saved: { kl_beta: "lots" }, savedFrom: "orchestrator.json" }),
    /orchestrator.json: saved key kl_beta is "lots"; expected a number ≥ 0 — the saved configuration is corrupt/,
  );
  assert.throws(() => resumeConfig({ argv: ["--seed=2"], saved, savedFrom: "x" }), /seed: the run uses 1337; the command line or environment gives 2/);
});
