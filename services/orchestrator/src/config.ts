// The orchestrator's configuration: the GRPO defaults plus where the other roles are and where the
// run lives. Parsed nanoGPT-style by libs/config (file, then --key=value overrides).
import { GRPO_CHOICES, GRPO_DEFAULTS, checkGrpoConfig, type GrpoConfig } from "@grpomesh/loop";
import { parseConfig, type ParsedConfig } from "@grpomesh/config";

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
  // --- this service ---
  address: "127.0.0.1:50070",
  /** Prometheus /metrics port (0 = pick a free one, -1 = off). */
  metrics_port: -1,
  /** Interface /metrics listens on ("0.0.0.0" in a pod, so Prometheus can scrape it). */
  metrics_host: "0.0.0.0",
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

const INTEGERS = [
  "group_size", "batch_size", "ppo_epochs", "max_iters", "warmup_iters", "micro_batch_size", "seed", "eval_interval",
  "eval_batches", "sample_interval", "samples_to_show", "checkpoint_interval", "judge_chunk_groups", "judge_deadline_ms", "judges_refresh_ms",
  "metrics_port", "log_every",
] as const;

export function parseOrchestratorConfig(argv: string[], file?: string): ParsedConfig<OrchestratorConfig> {
  const parsed = parseConfig(ORCHESTRATOR_DEFAULTS, {
    argv,
    file,
    choices: { ...GRPO_CHOICES, progress: ["auto", "line", "log"] },
    integers: [...INTEGERS],
    maxPositional: 0,
  });
  checkGrpoConfig(parsed.config as GrpoConfig);
  return parsed;
}
