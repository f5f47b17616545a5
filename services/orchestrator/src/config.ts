// The orchestrator's configuration: the GRPO defaults plus where the other roles are and where the
// run lives. Parsed nanoGPT-style by libs/config: defaults, ORCHESTRATOR_<KEY> environment
// variables, the JSON file (--config=run.json), then --key=value overrides.
import { GRPO_DEFAULTS, checkGrpoConfig, readJsonFile, type GrpoConfig } from "@grpomesh/loop";
import { parseConfig, parseConfigWithEnv, type ParsedConfig } from "@grpomesh/config";
import { SECURITY_FLAG_DEFAULTS } from "@grpomesh/rpc";

export const ORCHESTRATOR_DEFAULTS = {
  ...GRPO_DEFAULTS,
  // --- where the roles are ---
  policy: "127.0.0.1:50071",
  reference: "127.0.0.1:50072",
  /** Judge replicas: "host:port,host:port", "@file" (addresses, re-read), or "dns:///service:port" (re-resolved). */
  judges: "127.0.0.1:50061",
  /** How often "@file" and "dns:///" judge targets are re-read, so replicas can join and leave (ms). */
  judges_refresh_ms: 5_000,
  judge_chunk_groups: 0,
  judge_deadline_ms: 60_000,
  /** Longest a SwapJudge may hold the loop at a step boundary (load on every replica, or roll back) (ms). */
  judge_swap_deadline_ms: 30_000,
  // --- this service ---
  address: "127.0.0.1:50070",
  /** Prometheus /metrics port (0 = pick a free one, -1 = off). */
  metrics_port: -1,
  /** Interface /metrics listens on (pass "0.0.0.0" in a pod, so Prometheus can scrape it). */
  metrics_host: "127.0.0.1",
  /** TLS folder (client certificate for policy/reference/judges, server certificate for this service) and admin token file. */
  ...SECURITY_FLAG_DEFAULTS,
  // --- the run ---
  /** Run directory (log.jsonl, config.json, checkpoints/); default runs/<date-time>. */
  run_dir: "",
  resume: false,
  /** Corpus file (its .meta.json beside it); default data/corpus/kjv.txt. */
  corpus: "",
  /** Progress output: "line" (one rewritten line), "log" (a line every log_every steps), "auto". */
  progress: "auto" as "auto" | "line" | "log",
  log_every: 10,
  /** Stop (exit non-zero) instead of only warning when a start-up check finds a mismatch it can survive. */
  strict: true,
};

export type OrchestratorConfig = typeof ORCHESTRATOR_DEFAULTS;

export const ENV_PREFIX = "ORCHESTRATOR_";

const INTEGERS = [
  "group_size",
  "batch_size",
  "ppo_epochs",
  "max_iters",
  "warmup_iters",
  "micro_batch_size",
  "seed",
  "eval_interval",
  "eval_batches",
  "sample_interval",
  "samples_to_show",
  "checkpoint_interval",
  "judge_chunk_groups",
  "judge_deadline_ms",
  "judges_refresh_ms",
  "judge_swap_deadline_ms",
  "metrics_port",
  "log_every",
] as const;

const PARSE = {
  choices: {
    advantage_norm: ["global", "group", "none"],
    kl_estimator: ["exact", "k1", "k3"],
    token_reduction: ["sum", "mean"],
    progress: ["auto", "line", "log"],
  },
  integers: [...INTEGERS],
  maxPositional: 0,
} as const;

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

export function parseOrchestratorConfig(argv: string[], file?: string, env: Record<string, string | undefined> = {}): ParsedConfig<OrchestratorConfig> {
  const parsed = parseConfigWithEnv(ORCHESTRATOR_DEFAULTS, { ...PARSE, argv, file, env, envPrefix: ENV_PREFIX });
  checkGrpoConfig(parsed.config as GrpoConfig);
  return parsed;
}

/** argv without --config=FILE / --config FILE. */
function withoutConfigFile(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      out.push(...argv.slice(i));
      break;
    }
    if (a.startsWith("--config=")) continue;
    if (a === "--config") {
      i++;
      continue;
    }
    out.push(a);
  }
  return out;
}

const normalizeKey = (k: string) => k.replace(/-/g, "_");
const show = (v: unknown) => (typeof v === "string" ? JSON.stringify(v) : String(v));

export interface ConfigChange {
  key: string;
  saved: unknown;
  given: unknown;
  /** "the command line or environment", or "config file X". */
  source: string;
}

export interface ResumeConfigInput {
  argv: string[];
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
  const defaults = ORCHESTRATOR_DEFAULTS as Record<string, unknown>;
  const saved: Record<string, unknown> = { ...defaults };
  const ignoredKeys: string[] = [];
  for (const [key, value] of Object.entries(input.saved)) {
    if (!(key in defaults)) {
      ignoredKeys.push(key); // a key this version no longer has
      continue;
    }
    if (typeof value !== typeof defaults[key]) {
      throw new Error(
        `${input.savedFrom}: saved key ${key} is ${JSON.stringify(value)}; expected a ${typeof defaults[key]} — the saved configuration is corrupt`,
      );
    }
    saved[key] = value;
  }
  const env = input.env ?? {};
  const { configFile } = parseOrchestratorConfig(input.argv, undefined, env);
  const given: Record<string, unknown> = { ...saved };
  const source: Record<string, string> = {};
  if (configFile !== undefined) {
    const raw = readJsonFile<Record<string, unknown>>(configFile);
    const typed = parseConfig(ORCHESTRATOR_DEFAULTS, { ...PARSE, argv: [], file: configFile }).config as Record<string, unknown>;
    for (const rawKey of Object.keys(raw)) {
      const key = normalizeKey(rawKey);
      const atStart = input.startFileValues?.[rawKey] ?? input.startFileValues?.[key];
      if (input.startFileValues && JSON.stringify(atStart) === JSON.stringify(raw[rawKey])) continue;
      given[key] = typed[key];
      source[key] = `config file ${configFile}`;
    }
  }
  const base = { ...given } as OrchestratorConfig;
  const parsed = parseConfigWithEnv(base, { ...PARSE, argv: withoutConfigFile(input.argv), env, envPrefix: ENV_PREFIX }).config as Record<string, unknown>;
  for (const key of Object.keys(parsed)) if (parsed[key] !== given[key]) source[key] = "the command line or environment";

  const changes: ConfigChange[] = Object.keys(parsed)
    .filter((key) => parsed[key] !== saved[key] && key !== "resume")
    .map((key) => ({ key, saved: saved[key], given: parsed[key], source: source[key] ?? "the command line or environment" }));
  const refused = changes.filter((c) => !RESUME_SAFE_KEYS.has(c.key));
  if (refused.length) {
    throw new Error(
      `--resume continues the run with its saved configuration (${input.savedFrom}), and these keys would change it:\n` +
        refused.map((c) => `  ${c.key}: the run uses ${show(c.saved)}; ${c.source} gives ${show(c.given)}`).join("\n") +
        `\ndrop them to continue the run as it was, or start a new run (another --run_dir) with the new values. ` +
        `Keys a resume may change: ${[...RESUME_SAFE_KEYS].filter((k) => k !== "resume").join(", ")}`,
    );
  }
  const config = { ...(parsed as OrchestratorConfig), resume: true };
  checkGrpoConfig(config as GrpoConfig);
  return { config, changes, ignoredKeys };
}
