// The orchestrator's configuration on --resume: the run's saved values, with what the command line,
// the environment or the config file changes on top (only the keys a resume may change). The
// settings themselves are the table in settings.ts.
import { allowedValues, checkValues, defaults, parseSettings, type ConfigValue } from "@grpomesh/config";
import { ORCHESTRATOR_ENV_PREFIX, ORCHESTRATOR_SETTINGS, orchestratorRelations, type OrchestratorConfig } from "./settings.ts";

const show = (v: unknown) => (typeof v === "string" ? JSON.stringify(v) : String(v));

/**
 * Keys a resumed run may change: how long it runs, how often it reports and saves, where the other
 * roles and its own endpoints are, credentials, and warning thresholds. Every other key shapes the
 * training itself (the data order, the loss, the optimizer, the held-out set), so a resume keeps
 * the run's saved value and refuses a different one. max_iters also sets the cosine schedule's
 * length: changing it continues the same run on a longer or shorter schedule.
 */
export const RESUME_SAFE_KEYS: ReadonlySet<string> = new Set([
  "max_iters",
  "eval_interval",
  "sample_interval",
  "samples_to_show",
  "checkpoint_interval",
  "log_every",
  "progress",
  "warn_frac_zero_std",
  "warn_kl",
  "policy",
  "reference",
  "judges",
  "policy_tls_name",
  "reference_tls_name",
  "judges_tls_name",
  "judges_refresh_ms",
  "judge_chunk_groups",
  "judge_deadline_ms",
  "judge_swap_deadline_ms",
  "address",
  "metrics_port",
  "metrics_host",
  "tls_dir",
  "admin_token_file",
  "run_dir",
  "resume",
  "strict",
] satisfies ReadonlyArray<keyof OrchestratorConfig>);

export interface ConfigChange {
  key: string;
  saved: unknown;
  given: unknown;
  /** "the command line or environment", or "config file X". */
  source: string;
}

export interface ResumeConfigInput {
  argv: readonly string[];
  env?: Record<string, string | undefined>;
  /** The run's saved configuration (its latest checkpoint's, or config.json). */
  saved: Record<string, unknown>;
  /** Where `saved` came from, for messages. */
  savedFrom: string;
  /** The config file's values when the run started (its "start" record): a key the file still gives unchanged is not a change. */
  startFileValues?: Record<string, unknown>;
}

/**
 * The configuration of a resumed run: its saved configuration, with what the command line, the
 * environment or the config file changes on top. A change to a key outside RESUME_SAFE_KEYS is
 * refused, naming the saved and the given value; the same config file the run started with (a
 * launcher passes it every time) changes nothing unless a key in it was edited since.
 */
export function resumeConfig(input: ResumeConfigInput): { config: OrchestratorConfig; changes: ConfigChange[]; ignoredKeys: string[] } {
  const table: Record<string, (typeof ORCHESTRATOR_SETTINGS)[keyof typeof ORCHESTRATOR_SETTINGS]> = ORCHESTRATOR_SETTINGS;
  const saved: Record<string, ConfigValue> = defaults(ORCHESTRATOR_SETTINGS);
  const ignoredKeys: string[] = [];
  for (const [key, value] of Object.entries(input.saved)) {
    const row = table[key];
    // A key this version no longer has, or a resume-safe one it now spells otherwise (metrics_port -1 is now "off").
    if (!row || (RESUME_SAFE_KEYS.has(key) && !row.type.safeParse(value).success)) {
      ignoredKeys.push(key);
      continue;
    }
    if (!row.type.safeParse(value).success)
      throw new Error(`${input.savedFrom}: saved key ${key} is ${JSON.stringify(value)}; expected ${allowedValues(row)} — the saved configuration is corrupt`);
    saved[key] = value as ConfigValue;
  }
  const parsed = parseSettings(ORCHESTRATOR_SETTINGS, { argv: input.argv, env: input.env ?? {}, envPrefix: ORCHESTRATOR_ENV_PREFIX });
  const atStart = Object.fromEntries(Object.entries(input.startFileValues ?? {}).map(([k, v]) => [k.replace(/-/g, "_"), v]));
  const given: Record<string, ConfigValue> = { ...saved };
  const source: Record<string, string> = {};
  for (const [key, from] of Object.entries(parsed.sources)) {
    const value = (parsed.config as Record<string, ConfigValue>)[key]!;
    if (from === "file" && input.startFileValues && JSON.stringify(atStart[key]) === JSON.stringify(value)) continue;
    given[key] = value;
    source[key] = from === "file" ? `config file ${parsed.configFile}` : "the command line or environment";
  }
  const changes: ConfigChange[] = Object.keys(source)
    .filter((key) => given[key] !== saved[key] && key !== "resume")
    .map((key) => ({ key, saved: saved[key], given: given[key], source: source[key]! }));
  const refused = changes.filter((c) => !RESUME_SAFE_KEYS.has(c.key));
  if (refused.length) {
    throw new Error(
      `--resume continues the run with its saved configuration (${input.savedFrom}), and these keys would change it:\n` +
        refused.map((c) => `  ${c.key}: the run uses ${show(c.saved)}; ${c.source} gives ${show(c.given)}`).join("\n") +
        `\ndrop them to continue the run as it was, or start a new run (another --run_dir) with the new values. ` +
        `Keys a resume may change: ${[...RESUME_SAFE_KEYS].filter((k) => k !== "resume").join(", ")}`,
    );
  }
  const config = { ...(given as OrchestratorConfig), resume: true };
  checkValues(ORCHESTRATOR_SETTINGS, config, orchestratorRelations);
  return { config, changes, ignoredKeys };
}
