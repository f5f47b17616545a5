// The policy's command line: nanoGPT-style `--key=value` flags (libs/config: typed, unknown keys
// refused with the nearest known one) with POLICY_* environment fallbacks; flags win over env.
import { parseConfig, formatConfig } from "@grpomesh/config";

export const POLICY_FLAG_DEFAULTS = {
  /** Generator checkpoint folder (config.json + model.safetensors), or a policy checkpoint. */
  checkpoint: "models/generator",
  address: "0.0.0.0:50071",
  /** Port of /metrics; 0 picks a free one, "off" disables. */
  metrics_port: "9465",
  /** Most inputs per Sample/Update. */
  max_batch: 256,
  /** Most completions (B·k) per Sample/Update. */
  max_completions: 8192,
  max_ppo_epochs: 16,
  /** Largest request in bytes (larger: RESOURCE_EXHAUSTED). */
  max_message_bytes: 64 * 1024 * 1024,
  /** Recent Update results kept (and checkpointed) to answer retries. */
  replay_window: 64,
  /** When set, SaveCheckpoint/LoadCheckpoint folders must lie inside it (relative ones resolve against it). */
  checkpoint_root: "",
  /** tfjs backend: empty = first installed of node-gpu, node, wasm, cpu. */
  backend: "",
};

export type PolicyFlags = typeof POLICY_FLAG_DEFAULTS;

export interface PolicyServiceConfig {
  checkpoint: string;
  address: string;
  /** null: no /metrics endpoint. */
  metricsPort: number | null;
  maxBatch: number;
  maxCompletions: number;
  maxPpoEpochs: number;
  maxMessageBytes: number;
  replayWindow: number;
  checkpointRoot: string | null;
  backend: string | undefined;
}

export const ENV_PREFIX = "POLICY_";

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** `--help` text: every flag with its default and environment variable. */
export function policyUsage(): string {
  const lines = formatConfig(POLICY_FLAG_DEFAULTS).split("\n").map((l) => {
    const key = l.split(" ")[0]!;
    return `  --${key.replace(/_/g, "-")}  ${l.slice(key.length).trim().replace(/^= /, "default ")}  [env ${ENV_PREFIX}${key.toUpperCase()}]`;
  });
  return ["usage: node --import tsx services/policy/src/main.ts [--flag=value …]", ...lines].join("\n");
}

/** Flags override POLICY_* variables, which override the defaults. Throws ConfigError on any bad value. */
export function parsePolicyConfig(argv: readonly string[], env: Record<string, string | undefined> = {}): { config: PolicyServiceConfig; help: boolean } {
  const fromEnv = Object.keys(POLICY_FLAG_DEFAULTS)
    .filter((k) => env[ENV_PREFIX + k.toUpperCase()] !== undefined)
    .map((k) => `--${k}=${env[ENV_PREFIX + k.toUpperCase()]}`);
  const parse = (args: string[]) =>
    parseConfig(POLICY_FLAG_DEFAULTS, {
      argv: args,
      integers: ["max_batch", "max_completions", "max_ppo_epochs", "max_message_bytes", "replay_window"],
      choices: { backend: ["", "wasm", "cpu", "node", "node-gpu"] },
      maxPositional: 0,
    });
  // Each variable alone first, so an error names the variable rather than a flag nobody typed.
  for (const arg of fromEnv) {
    try {
      parse([arg]);
    } catch (err) {
      const key = arg.slice(2, arg.indexOf("="));
      throw new ConfigError(`environment variable ${ENV_PREFIX}${key.toUpperCase()}: ${(err as Error).message}`);
    }
  }
  let flags: PolicyFlags;
  let help: boolean;
  try {
    const parsed = parse([...fromEnv, ...argv]);
    flags = parsed.config;
    help = parsed.help;
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  return { config: toServiceConfig(flags), help };
}

function toServiceConfig(f: PolicyFlags): PolicyServiceConfig {
  const positive = (key: keyof PolicyFlags) => {
    const v = f[key] as number;
    if (!(v >= 1)) throw new ConfigError(`--${key.replace(/_/g, "-")} is ${v}; expected an integer ≥ 1`);
    return v;
  };
  if (f.checkpoint === "") throw new ConfigError("--checkpoint is empty; expected a checkpoint folder (config.json + model.safetensors)");
  return {
    checkpoint: f.checkpoint,
    address: f.address,
    metricsPort: parseMetricsPort(f.metrics_port),
    maxBatch: positive("max_batch"),
    maxCompletions: positive("max_completions"),
    maxPpoEpochs: positive("max_ppo_epochs"),
    maxMessageBytes: positive("max_message_bytes"),
    replayWindow: positive("replay_window"),
    checkpointRoot: f.checkpoint_root === "" ? null : f.checkpoint_root,
    backend: f.backend === "" ? undefined : f.backend,
  };
}

export function parseMetricsPort(raw: string): number | null {
  if (raw === "off") return null;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65535) throw new ConfigError(`--metrics-port is ${JSON.stringify(raw)}; expected a port in [0, 65535] (0 picks a free one) or "off"`);
  return n;
}
