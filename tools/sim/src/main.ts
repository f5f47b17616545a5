// `npm run sim -- [--layout=2host] [--compare=max_staleness=0,1] [--seeds=1,2,3] [--latency_ms=0,5] [npm start's flags…]`:
// the local stack across simulated hosts (network namespaces, root only), one run per compared
// value × seed × latency, then a table of steps/s (with the ratio to the first value) and the
// held-out reward and solve rate at the end. Everything it makes is removed at the end, on Ctrl-C
// and on errors; `--cleanup` removes what a killed simulation left.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ConfigError, parseSettings, usage } from "@grpomesh/config";
import { ROOT, type Supervisor } from "@grpomesh/launcher";
import { launcherUsage, parseLauncherArgs } from "@grpomesh/launcher/settings";
import { TASKS } from "@grpomesh/tasks/settings";
import { Network, networkProblem, removeLeftovers } from "./netns.ts";
import { SIM_ENV_PREFIX, SIM_INTRO, SIM_SETTINGS, parseCompare, splitList } from "./settings.ts";
import { comparisonTable, runOne, type RunSummary } from "./sim.ts";

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const own: string[] = [];
  const rest: string[] = [];
  for (const a of argv) (a.startsWith("--") && a.slice(2).split("=")[0]!.replace(/-/g, "_") in SIM_SETTINGS ? own : rest).push(a);
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(usage(SIM_SETTINGS, "npm run sim --", SIM_ENV_PREFIX, SIM_INTRO));
    console.log(`\nEvery other flag is npm start's:\n${launcherUsage()}`);
    return 0;
  }
  let c: ReturnType<typeof parseSettings<typeof SIM_SETTINGS>>["config"];
  let launched: ReturnType<typeof parseLauncherArgs>;
  try {
    c = parseSettings(SIM_SETTINGS, { argv: own, env: process.env, envPrefix: SIM_ENV_PREFIX }).config;
    launched = parseLauncherArgs(c.size === "reference" ? [...rest.filter((a) => !a.startsWith("--task")), "--task=kjv"] : rest, process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`sim: ${err.message}\n(npm run sim -- --help lists every setting)`);
    return 2;
  }
  const problem = networkProblem();
  if (problem) {
    console.error(`sim: ${problem}`);
    return 1;
  }
  if (c.cleanup) {
    const { namespaces, processes } = removeLeftovers();
    console.log(
      namespaces.length ? `sim: removed ${namespaces.join(", ")} and stopped ${processes} process(es) left in them` : "sim: nothing left over to remove",
    );
    return 0;
  }
  const compare = parseCompare(c.compare);
  const values = compare ? compare.values : [""];
  const seeds = splitList(c.seeds);
  const latencies = splitList(c.latency_ms).map(Number);
  const start = performance.now();
  const deadline = start + c.timeout_s * 1000;
  const workDir = c.work_dir ? resolve(c.work_dir) : mkdtempSync(join(tmpdir(), "grpomesh-sim-"));
  mkdirSync(workDir, { recursive: true });

  let sup: Supervisor | null = null;
  let net: Network | null = null;
  const ownWorkDir = !c.keep && !c.work_dir;
  // Also what runs on an immediate exit (a second Ctrl-C, an uncaught error): every step is synchronous and safe to repeat.
  const cleanUp = () => {
    sup?.killAllNow();
    net?.remove();
    if (ownWorkDir) rmSync(workDir, { recursive: true, force: true });
  };
  process.on("exit", cleanUp);
  let interrupted = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupted++;
    console.log(`\nsim: ${sig}: stopping${interrupted > 1 ? " now" : " the run after its current step"}, then removing the hosts`);
    if (interrupted > 1 || !sup) {
      cleanUp();
      process.exit(130);
    }
    sup.signal("orchestrator", "SIGINT");
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    const left = removeLeftovers();
    if (left.namespaces.length)
      console.log(`sim: removed namespaces left by earlier simulations: ${left.namespaces.join(", ")} (and ${left.processes} process(es) in them)`);
    net = Network.create({ layout: c.layout, bandwidth: c.bandwidth === "off" ? null : c.bandwidth, pin: c.pin });
    console.log(
      `sim: hosts: ${net.describe(c.layout === "2host-split")}; link ${c.bandwidth === "off" ? "without a bandwidth limit" : `limited to ${c.bandwidth}`}`,
    );
    let { generator, judge_model: judgeModel } = launched.launcher;
    if (c.size === "reference") {
      const { benchModelsAt } = await import("@grpomesh/bench/peer");
      const { loadCorpus } = await import("@grpomesh/data");
      const { initBackend } = await import("@grpomesh/model");
      await initBackend(undefined, { log: false }); // tfjs makes the random models
      const models = await benchModelsAt("reference", join(workDir, "models"), generator, judgeModel, loadCorpus().vocab.tokens);
      generator = models.generator;
      judgeModel = models.judgeModel;
      console.log(`sim: reference size: generator ${models.generatorNote}; judge ${models.judgeNote}`);
    }
    const task = launched.orchestrator.task;
    const runs: RunSummary[] = [];
    runs: for (const latency of latencies) {
      for (const value of values) {
        for (const seed of seeds) {
          if (interrupted) break runs;
          if (performance.now() >= deadline) {
            console.log(`sim: the time limit (--timeout_s=${c.timeout_s}) is reached: no more runs`);
            break runs;
          }
          const overrides: Record<string, string> = { ...(compare ? { [compare.key]: value } : {}), seed };
          const name = `${compare ? `${compare.key}-${value}-` : ""}seed-${seed}-latency-${latency}`;
          console.log(`sim: run ${runs.length + 1}/${latencies.length * values.length * seeds.length}: ${name}`);
          const summary = await runOne(
            {
              net,
              referenceWithJudges: c.layout === "2host-split",
              runDir: join(workDir, name),
              generator,
              judgeModel,
              judges: launched.launcher.judges,
              runConfig: launched.launcher.run_config,
              referenceFlags: [`--dataset_meta=${join(ROOT, TASKS[task].dataset_meta)}`],
              orchestratorArgv: launched.orchestratorArgv.filter((a) => !a.startsWith("--task") || c.size !== "reference"),
              overrides,
              latencyMs: latency,
              deadline,
              log: (line) => console.log(line),
              onSupervisor: (s) => (sup = s),
              stopRequested: () => interrupted > 0,
            },
            c.warmup_steps,
          );
          if (!summary) break runs;
          runs.push(summary);
          console.log(
            `sim:   ${summary.steps} steps, ${summary.steps_per_s.toFixed(2)} steps/s, held-out reward ${summary.heldout_reward.toFixed(4)}, solved ${(100 * summary.heldout_solved).toFixed(1)}%` +
              `, idle policy ${summary.idle.policy.toFixed(2)} judge ${summary.idle.judge.toFixed(2)}${summary.completed ? "" : " (stopped before the end)"}`,
          );
        }
      }
    }
    if (runs.length === 0) {
      console.log("sim: stopped before any run ended; nothing to compare");
      return interrupted ? 130 : 1;
    }
    const table = comparisonTable(runs, compare?.key ?? null);
    console.log(`\n${table}\n`);
    console.log(
      `sim: ${c.layout}${c.layout !== "1host" && c.pin ? " (one core each)" : ""}, task ${task}${c.size === "reference" ? " at the reference size" : ""}, ` +
        `${runs[0]?.steps ?? 0} steps a run; steps/s = 1000 / mean step_ms after ${c.warmup_steps} warm-up steps; ${((performance.now() - start) / 1000).toFixed(0)} s in all`,
    );
    if (c.json) writeFileSync(c.json, JSON.stringify({ settings: c, argv: rest, runs, table }, null, 2) + "\n");
    return interrupted ? 130 : 0;
  } finally {
    cleanUp();
    net = null;
    if (!ownWorkDir) console.log(`sim: runs kept in ${workDir}`);
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`sim: ${(err as Error).message}`);
    process.exit(1);
  },
);
