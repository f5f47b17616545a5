// What a start of the orchestrator will do with its run directory, decided before it connects to
// anything or writes anything: start a fresh run (only in a directory that holds no other run),
// resume from the newest checkpoint that verifies with the run's saved configuration, or — for a
// run that is already finished — say so and change nothing.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { REPO_ROOT } from "@grpomesh/data";
import {
  CONFIG_FILE,
  LOG_FILE,
  SUMMARY_FILE,
  assertFreshRunDir,
  chooseCheckpoint,
  inspectRunDir,
  readJsonFile,
  readLog,
  type CheckpointChoice,
} from "@grpomesh/loop";
import { parseSettings } from "@grpomesh/config";
import { resumeConfig, type ConfigChange } from "./config.ts";
import { ORCHESTRATOR_ENV_PREFIX, ORCHESTRATOR_SETTINGS, orchestratorRelations, type OrchestratorConfig } from "./settings.ts";

export type RunPlan =
  | {
      kind: "fresh";
      config: OrchestratorConfig;
      runDir: string;
      /** The config file and its values, recorded in the run's "start" record (a resume compares against them). */
      configFile?: string;
      configFileValues?: Record<string, unknown>;
      notes: string[];
    }
  | {
      kind: "resume";
      config: OrchestratorConfig;
      runDir: string;
      choice: CheckpointChoice & { chosen: NonNullable<CheckpointChoice["chosen"]> };
      /** Safe keys the resume changes (max_iters, addresses, …). */
      changes: ConfigChange[];
      savedFrom: string;
      notes: string[];
    }
  | { kind: "finished"; runDir: string; step: number; message: string };

export function defaultRunDir(now = new Date()): string {
  return join(REPO_ROOT, "runs", now.toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-"));
}

export function planRun(argv: readonly string[], env: Record<string, string | undefined> = {}): RunPlan {
  const parsed = parseSettings(ORCHESTRATOR_SETTINGS, { argv, env, envPrefix: ORCHESTRATOR_ENV_PREFIX, check: orchestratorRelations });
  const cfg = parsed.config;
  const runDir = resolve(cfg.run_dir || defaultRunDir());
  const fresh = (notes: string[]): RunPlan => {
    assertFreshRunDir(runDir);
    const configFileValues = parsed.configFile ? readJsonFile<Record<string, unknown>>(parsed.configFile) : undefined;
    return { kind: "fresh", config: cfg, runDir, configFile: parsed.configFile, configFileValues, notes };
  };
  if (!cfg.resume) return fresh([]);

  const choice = chooseCheckpoint(runDir);
  const chosen = choice.chosen;
  if (!chosen) {
    if (choice.skipped.length) {
      throw new Error(
        `--resume: no checkpoint in ${join(runDir, "checkpoints")} verifies, so the run cannot continue (nothing was changed):\n  ` +
          choice.skipped.map((s) => `${s.checkpoint}: ${s.reason}`).join("\n  ") +
          `\nrestore a checkpoint from a backup, or start a new run with another --run_dir`,
      );
    }
    const contents = existsSync(runDir) ? inspectRunDir(runDir) : undefined;
    if (contents && contents.logRecords > 0) {
      throw new Error(
        `--resume: ${runDir} holds a run's ${LOG_FILE} (${contents.loggedSteps} steps) but no checkpoint to continue from; ` +
          `starting over would write over that log — start a new run with another --run_dir (or move this one away)`,
      );
    }
    return fresh([`--resume: ${runDir} holds no run yet (no checkpoint, no log); starting a fresh run`]);
  }

  const stateFile = join(chosen.dir, "orchestrator.json");
  let saved = chosen.state.config as Record<string, unknown> | undefined;
  let savedFrom = stateFile;
  if (!saved || typeof saved !== "object" || Object.keys(saved).length === 0) {
    savedFrom = join(runDir, CONFIG_FILE);
    saved = readJsonFile<Record<string, unknown>>(savedFrom);
  }
  const start = readLog(join(runDir, LOG_FILE)).records.find((r) => r.type === "start");
  const startFileValues = start && typeof start.config_file_values === "object" ? (start.config_file_values as Record<string, unknown>) : undefined;
  const { config, changes, ignoredKeys } = resumeConfig({ argv, env, saved, savedFrom, startFileValues });
  config.run_dir = runDir;

  if (chosen.step >= config.max_iters && existsSync(join(runDir, SUMMARY_FILE))) {
    return {
      kind: "finished",
      runDir,
      step: chosen.step,
      message:
        `run ${runDir} is already finished: step ${chosen.step} of max_iters ${config.max_iters} (${join(runDir, SUMMARY_FILE)}); ` +
        `nothing to do, nothing was changed. To train it further, resume with --max_iters above ${chosen.step}`,
    };
  }
  const notes = [...choice.notes];
  if (ignoredKeys.length) notes.push(`the saved configuration has keys this version does not know, ignored: ${ignoredKeys.join(", ")}`);
  return { kind: "resume", config, runDir, choice: { ...choice, chosen }, changes, savedFrom, notes };
}
