// `npm start`'s options: its own table and the orchestrator's from one command line and the run
// config file, every error reported before anything is spawned, and quickly.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@grpomesh/config";
import { ROOT, launcherUsage, parseLauncherArgs } from "./settings.ts";

const refused = (argv: string[], re: RegExp, env: Record<string, string> = {}) =>
  assert.throws(
    () => parseLauncherArgs(argv, env),
    (e: unknown) => e instanceof ConfigError && re.test(e.message),
    String(re),
  );

test("both tables from one command line: each key goes to its table, the orchestrator's flags passed on as given", () => {
  const dir = mkdtempSync(join(tmpdir(), "launcher-settings-"));
  try {
    const runConfig = join(dir, "run.json");
    writeFileSync(runConfig, JSON.stringify({ max_iters: 7, batch_size: 8 }));
    const a = parseLauncherArgs(["--judges", "3", "--kl-beta=0.2", `--run_config=${runConfig}`, "--resume", "--run_dir=rel/run"], { ORCHESTRATOR_SEED: "5" });
    assert.deepEqual([a.launcher.judges, a.launcher.run_config, a.launcher.run_dir], [3, runConfig, join(process.cwd(), "rel/run")]);
    assert.deepEqual(
      [a.orchestrator.kl_beta, a.orchestrator.max_iters, a.orchestrator.batch_size, a.orchestrator.seed, a.orchestrator.resume],
      [0.2, 7, 8, 5, true],
    );
    assert.deepEqual(a.orchestratorArgv, ["--kl-beta=0.2", "--resume"]);
    // The task picks the bundled files: the default task's, --task's, or the given run config's task.
    const d = parseLauncherArgs([]).launcher;
    assert.deepEqual(
      [d.generator, d.judge_model, d.run_config],
      ["models/sudoku4/generator", "models/sudoku4/judge.onnx", "configs/sudoku.json"].map((p) => join(ROOT, p)),
    );
    const k = parseLauncherArgs(["--task=kjv"]);
    assert.deepEqual(
      [k.launcher.generator, k.launcher.judge_model, k.launcher.run_config, k.orchestrator.task],
      [...["models/generator", "models/judge/model.onnx", "configs/kjv.json"].map((p) => join(ROOT, p)), "kjv"],
    );
    const f = parseLauncherArgs([`--run_config=${join(ROOT, "configs/kjv.json")}`]);
    assert.deepEqual([f.launcher.generator, f.orchestrator.task], [join(ROOT, "models/generator"), "kjv"]);
    assert.match(d.run_dir, /runs\/\d{8}-\d{6}$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("every option error is a ConfigError: unknown keys of either table with a suggestion, bad values, bad relations, the run config file", () => {
  const dir = mkdtempSync(join(tmpdir(), "launcher-settings-"));
  try {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ batch_size: 6, micro_batch_size: 4 }));
    refused(["--kl_betta=1"], /^unknown option --kl_betta; did you mean --kl_beta\?$/);
    refused(["--judge_modle=x.onnx"], /did you mean --judge_model\?/);
    refused(["--judges=0"], /option --judges is 0; expected an integer ≥ 1/);
    refused(["--engine=gpu"], /option --engine is "gpu"; expected one of auto, onnx, tfjs/);
    refused(["--policy=127.0.0.1:1"], /unknown option --policy/, {});
    refused([`--run_config=${bad}`], /batch_size 6 is not a multiple of micro_batch_size 4/);
    refused(["--micro_batch_size=5"], /batch_size 16 is not a multiple of micro_batch_size 5/);
    refused([`--run_config=${join(dir, "none.json")}`], /cannot read config file .*none\.json/);
    refused([], /environment variable ORCHESTRATOR_KL_BETA is "lots"/, { ORCHESTRATOR_KL_BETA: "lots" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("npm start with a mistyped option exits 2 with the suggestion, spawns nothing, and its own work takes well under a second", () => {
  const started = performance.now();
  assert.throws(() => parseLauncherArgs(["--kl_betta=1", "--max_iters=3"], {}), /did you mean --kl_beta\?/);
  const ms = performance.now() - started;
  assert.ok(ms < 1000, `parsing took ${ms.toFixed(0)} ms`);

  const dir = mkdtempSync(join(tmpdir(), "launcher-settings-"));
  try {
    const runDir = join(dir, "run");
    const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "tools/launcher/src/main.ts"), "--kl_betta=1", `--run_dir=${runDir}`], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr, "grpo-mesh: unknown option --kl_betta; did you mean --kl_beta?\n(npm start -- --help lists every option)\n");
    assert.equal(r.stdout, "", "nothing started");
    assert.ok(!existsSync(runDir), "no run directory was made");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--help shows both tables", () => {
  assert.equal(parseLauncherArgs(["--help"]).help, true);
  const text = launcherUsage();
  for (const key of ["judges", "judge_model", "run_config", "run_dir", "engine", "kl_beta", "max_iters", "metrics_host"])
    assert.match(text, new RegExp(`--${key}  \\(`));
  assert.doesNotMatch(text, /--policy  \(/, "keys the launcher sets itself are not options");
});

test("--judge_model takes several named judge models with weights (paths resolved), a plain path is one judge; a bad list is refused before anything starts", () => {
  const a = parseLauncherArgs(["--task=kjv", "--judge_model=e@2=rel/e.onnx;t=/abs/t.onnx"]).launcher;
  assert.equal(a.judge_model, `e@2=${join(process.cwd(), "rel/e.onnx")};t=/abs/t.onnx`);
  assert.equal(parseLauncherArgs(["--task=kjv", "--judge_model=rel/j.onnx"]).launcher.judge_model, join(process.cwd(), "rel/j.onnx"));
  refused(["--judge_model=e@0=a.onnx;t=b.onnx"], /--judge_model is "e@0=a\.onnx;t=b\.onnx"; expected judge models .*judge 1 .*weight is 0/);
  refused(["--judge_model=E=a.onnx"], /name "E" is not 1 to 32 of a-z/);
  refused(["--judge_model=a.onnx;b.onnx"], /the name "judge" is used twice/);
});
