// `npm start`'s settings: its own (how many judges, which models, which run) and the orchestrator's,
// parsed together from one command line and the run config file before any service is spawned, so a
// bad option answers at once. A key belongs to one table; the orchestrator keys the launcher sets
// itself (where the services are, the credentials, the run directory) are not options here.
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DASHES_NOTE, defaults, parseSettings, setting, settingsHelp, z, type Values } from "@grpomesh/config";
import { MODEL_SERVICE_SETTINGS } from "@grpomesh/role-engines/settings";
import { TASKS } from "@grpomesh/tasks/settings";
import {
  ORCHESTRATOR_ENV_PREFIX,
  ORCHESTRATOR_SETTINGS,
  formatWeightedSpecs,
  orchestratorRelations,
  parseWeightedSpecs,
  weightedSpecsProblem,
  type OrchestratorConfig,
} from "@grpomesh/orchestrator/settings";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export const LAUNCHER_ENV_PREFIX = "LAUNCHER_";

export const LAUNCHER_SETTINGS = {
  judges: setting(z.int().min(1), 2, "judge replicas to start (for each judge model)"),
  generator: setting(z.string(), "", "generator checkpoint for the policy and the reference; empty: the task's bundled one"),
  judge_model: setting(
    z.string().superRefine((text, ctx) => {
      const problem = text === "" ? undefined : weightedSpecsProblem(text);
      if (problem) ctx.addIssue({ code: "custom", message: `judge models "name@weight=path;name=path" or one path (${problem})` });
    }),
    "",
    'judge ONNX model, or several judges, the reward their weighted sum: "name@weight=path;name=path" (weights non-zero, negative ones subtract); empty: the task\'s bundled one',
  ),
  run_config: setting(z.string(), "", "the orchestrator's run config file (JSON); empty: the task's (configs/<task>.json)"),
  run_dir: setting(z.string(), "", "run directory (logs, secrets, checkpoints); empty: runs/<date-time>"),
  engine: MODEL_SERVICE_SETTINGS.engine,
  execution_provider: MODEL_SERVICE_SETTINGS.execution_provider,
};

/** Orchestrator keys the launcher gives itself: not options of `npm start`. */
const SET_BY_LAUNCHER = new Set(["policy", "reference", "judges", "address", "metrics_port", "tls_dir", "admin_token_file", "run_dir"]);
const ORCHESTRATOR_OPTIONS = Object.fromEntries(Object.entries(ORCHESTRATOR_SETTINGS).filter(([k]) => !SET_BY_LAUNCHER.has(k)));

export interface LauncherArgs {
  launcher: Values<typeof LAUNCHER_SETTINGS>;
  /** The orchestrator's values (run config file, ORCHESTRATOR_* environment, flags), checked. */
  orchestrator: OrchestratorConfig;
  /** The command line's orchestrator options, passed on as given. */
  orchestratorArgv: string[];
  help: boolean;
}

export function launcherUsage(): string {
  return [
    "usage: npm start -- [--key=value …]",
    "Starts judges, reference and policy on loopback (mutual TLS, a fresh admin token), then the orchestrator.",
    "",
    settingsHelp(LAUNCHER_SETTINGS, LAUNCHER_ENV_PREFIX),
    "",
    `The orchestrator's settings (also read from run_config and ORCHESTRATOR_* variables), e.g. --max_iters=50; --resume --run_dir=DIR continues a run:`,
    "",
    settingsHelp(ORCHESTRATOR_OPTIONS, ORCHESTRATOR_ENV_PREFIX),
    "",
    DASHES_NOTE,
  ].join("\n");
}

/**
 * Both tables from one command line: every unknown key (with the nearest of either table), bad
 * value and bad relation is a ConfigError here, before anything is spawned. Paths resolve against
 * the working directory, defaults against the repository.
 */
export function parseLauncherArgs(argv: readonly string[], env: Record<string, string | undefined> = {}): LauncherArgs {
  const both = parseSettings({ ...ORCHESTRATOR_OPTIONS, ...LAUNCHER_SETTINGS }, { argv });
  const launcherArgv: string[] = [];
  const orchestratorArgv: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const key = arg.startsWith("--") ? arg.slice(2).split("=")[0]!.replace(/-/g, "_") : "";
    if (!(key in LAUNCHER_SETTINGS)) orchestratorArgv.push(arg);
    else launcherArgv.push(arg, ...(arg.includes("=") ? [] : [argv[++i]!]));
  }
  const launcher = parseSettings(LAUNCHER_SETTINGS, { argv: launcherArgv, env, envPrefix: LAUNCHER_ENV_PREFIX }).config;
  launcher.run_dir = launcher.run_dir
    ? resolve(launcher.run_dir)
    : join(ROOT, "runs", new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-"));
  const parseOrchestrator = (file: string | undefined) =>
    parseSettings(ORCHESTRATOR_SETTINGS, { argv: orchestratorArgv, env, envPrefix: ORCHESTRATOR_ENV_PREFIX, file, check: orchestratorRelations }).config;
  // The task picks the bundled files: from --task (or ORCHESTRATOR_TASK), else from a given run config, else the default.
  const task = launcher.run_config ? undefined : parseOrchestrator(undefined).task;
  launcher.run_config = launcher.run_config ? resolve(launcher.run_config) : join(ROOT, TASKS[task!].run_config);
  if (both.help) return { launcher, orchestrator: defaults(ORCHESTRATOR_SETTINGS), orchestratorArgv, help: true };
  const orchestrator = parseOrchestrator(launcher.run_config);
  launcher.generator = launcher.generator ? resolve(launcher.generator) : join(ROOT, TASKS[orchestrator.task].generator);
  launcher.judge_model = launcher.judge_model
    ? formatWeightedSpecs(parseWeightedSpecs(launcher.judge_model).map((j) => ({ ...j, spec: resolve(j.spec) })))
    : join(ROOT, TASKS[orchestrator.task].judge_model);
  return { launcher, orchestrator, orchestratorArgv, help: false };
}
