// Every settings table of the project, one entry per service or tool: what docs/configuration.md is
// generated from (npm run docs:config). A table module is light, so importing all of them is quick.
import type { Table } from "@grpomesh/config";
import { JUDGE_ENV_PREFIX, JUDGE_SETTINGS } from "@grpomesh/judge/settings";
import { ORCHESTRATOR_ENV_PREFIX, ORCHESTRATOR_SETTINGS } from "@grpomesh/orchestrator/settings";
import { POLICY_ENV_PREFIX, POLICY_SETTINGS } from "@grpomesh/policy/settings";
import { REFERENCE_ENV_PREFIX, REFERENCE_SETTINGS } from "@grpomesh/reference/settings";
import { LAUNCHER_ENV_PREFIX, LAUNCHER_SETTINGS } from "@grpomesh/launcher/settings";
import { PRETRAIN_ENV_PREFIX, PRETRAIN_SETTINGS } from "@grpomesh/pretrain/settings";
import { TRAIN_JUDGE_ENV_PREFIX, TRAIN_JUDGE_SETTINGS } from "@grpomesh/train-judge/settings";
import { JUDGE_CLI_ENV_PREFIX, JUDGE_CLI_SETTINGS } from "@grpomesh/judge-cli/settings";
import { CHAOS_ENV_PREFIX, CHAOS_SETTINGS } from "@grpomesh/chaos/settings";
import { SIM_ENV_PREFIX, SIM_SETTINGS } from "@grpomesh/sim/settings";
import { HOSTILE_ENV_PREFIX, HOSTILE_SETTINGS } from "@grpomesh/hostile/settings";
import { EXPORT_COMMAND, EXPORT_ENV_PREFIX, EXPORT_SETTINGS } from "@grpomesh/onnx-export/cli";
import { BENCHES, BENCH_ENV_PREFIX } from "@grpomesh/bench/registry";
import { SUDOKU_JUDGE_ENV_PREFIX, SUDOKU_JUDGE_SETTINGS } from "@grpomesh/sudoku/judge-settings";

export interface SettingsEntry {
  /** The role or tool, as the docs name it. */
  name: string;
  /** How it is run. */
  command: string;
  /** Prefix of its environment variables; undefined: none are read. */
  envPrefix?: string;
  table: Table;
}

export const SETTINGS_REGISTRY: SettingsEntry[] = [
  { name: "policy", command: "node --import tsx services/policy/src/main.ts", envPrefix: POLICY_ENV_PREFIX, table: POLICY_SETTINGS },
  { name: "reference", command: "node --import tsx services/reference/src/main.ts", envPrefix: REFERENCE_ENV_PREFIX, table: REFERENCE_SETTINGS },
  { name: "judge", command: "node --import tsx services/judge/src/main.ts", envPrefix: JUDGE_ENV_PREFIX, table: JUDGE_SETTINGS },
  {
    name: "orchestrator",
    command: "node --import tsx services/orchestrator/src/main.ts",
    envPrefix: ORCHESTRATOR_ENV_PREFIX,
    table: ORCHESTRATOR_SETTINGS,
  },
  { name: "launcher", command: "npm start --", envPrefix: LAUNCHER_ENV_PREFIX, table: LAUNCHER_SETTINGS },
  // The tools' tables follow.
  { name: "pretrain", command: "npm run pretrain --", envPrefix: PRETRAIN_ENV_PREFIX, table: PRETRAIN_SETTINGS },
  { name: "train-judge", command: "npm run train-judge --", envPrefix: TRAIN_JUDGE_ENV_PREFIX, table: TRAIN_JUDGE_SETTINGS },
  { name: "sudoku-judge", command: "npm run sudoku-judge --", envPrefix: SUDOKU_JUDGE_ENV_PREFIX, table: SUDOKU_JUDGE_SETTINGS },
  { name: "judge CLI", command: "npm run judge -- status|swap|run", envPrefix: JUDGE_CLI_ENV_PREFIX, table: JUDGE_CLI_SETTINGS },
  { name: "chaos", command: "npm run chaos --", envPrefix: CHAOS_ENV_PREFIX, table: CHAOS_SETTINGS },
  { name: "sim", command: "npm run sim --", envPrefix: SIM_ENV_PREFIX, table: SIM_SETTINGS },
  { name: "hostile", command: "npm run hostile --", envPrefix: HOSTILE_ENV_PREFIX, table: HOSTILE_SETTINGS },
  { name: "ONNX export", command: EXPORT_COMMAND, envPrefix: EXPORT_ENV_PREFIX, table: EXPORT_SETTINGS },
  ...Object.entries(BENCHES).map(([name, b]) => ({
    name: `bench ${name}`,
    command: `npm run bench -- ${name}`,
    envPrefix: BENCH_ENV_PREFIX,
    table: b.settings,
  })),
];
