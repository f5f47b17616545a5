// The reference's command line: nanoGPT-style `--key=value` flags (libs/config: typed, unknown keys
// refused with the nearest known one) with REFERENCE_* environment fallbacks; flags win over env.
import { join, resolve } from "node:path";
import { parseConfig, formatConfig } from "@grpomesh/config";
import { REPO_ROOT } from "@grpomesh/data";

export const REFERENCE_FLAG_DEFAULTS = {
  /** Generator checkpoint folder (config.json + model.safetensors): the policy's starting point. */
  checkpoint: "models/generator",
  address: "0.0.0.0:50072",
  /** Port of /metrics; 0 picks a free one, "off" disables. */
  metrics_port: "9466",
  /** Dataset metadata whose vocabulary the checkpoint must speak; "none" skips the check. The default is the repository's. */
  dataset_meta: "data/corpus/kjv.meta.json",
  /** Most inputs per LogProbs request. */
  max_batch: 256,
  /** Most completions (B·k) per LogProbs request. */
  max_completions: 8192,
  /** Largest request in bytes (larger: RESOURCE_EXHAUSTED). */
  max_message_bytes: 64 * 1024 * 1024,
  /** tfjs backend: empty = first installed of node-gpu, node, wasm, cpu. */
  backend: "",
};

export type ReferenceFlags = typeof REFERENCE_FLAG_DEFAULTS;

export interface ReferenceServiceConfig {
  checkpoint: string;
  address: string;
  /** null: no /metrics endpoint. */
  metricsPort: number | null;
  /** null: no vocabulary check. */
  datasetMeta: string | null;
  maxBatch: number;
  maxCompletions: number;
  maxMessageBytes: number;
  backend: string | undefined;
}

export const ENV_PREFIX = "REFERENCE_";

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** `--help` text: every flag with its default and environment variable. */
export function referenceUsage(): string {
  const lines = formatConfig(REFERENCE_FLAG_DEFAULTS).split("\n").map((l) => {
    const key = l.split(" ")[0]!;
    return `  --${key.replace(/_/g, "-")}  ${l.slice(key.length).trim().replace(/^= /, "default ")}  [env ${ENV_PREFIX}${key.toUpperCase()}]`;
  });
  return ["usage: node --import tsx services/reference/src/main.ts [--flag=value …]", ...lines].join("\n");
}

/** Flags override REFERENCE_* variables, which override the defaults. Throws ConfigError on any bad value. */
export function parseReferenceConfig(argv: readonly string[], env: Record<string, string | undefined> = {}): { config: ReferenceServiceConfig; help: boolean } {
  const fromEnv = Object.keys(REFERENCE_FLAG_DEFAULTS)
    .filter((k) => env[ENV_PREFIX + k.toUpperCase()] !== undefined)
    .map((k) => `--${k}=${env[ENV_PREFIX + k.toUpperCase()]}`);
  const parse = (args: string[]) =>
    parseConfig(REFERENCE_FLAG_DEFAULTS, {
      argv: args,
      integers: ["max_batch", "max_completions", "max_message_bytes"],
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
  let flags: ReferenceFlags;
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

function toServiceConfig(f: ReferenceFlags): ReferenceServiceConfig {
  const positive = (key: keyof ReferenceFlags) => {
    const v = f[key] as number;
    if (!(v >= 1)) throw new ConfigError(`--${key.replace(/_/g, "-")} is ${v}; expected an integer ≥ 1`);
    return v;
  };
  if (f.checkpoint === "") throw new ConfigError("--checkpoint is empty; expected a checkpoint folder (config.json + model.safetensors)");
  return {
    checkpoint: f.checkpoint,
    address: f.address,
    metricsPort: parseMetricsPort(f.metrics_port),
    datasetMeta: datasetMetaPath(f.dataset_meta),
    maxBatch: positive("max_batch"),
    maxCompletions: positive("max_completions"),
    maxMessageBytes: positive("max_message_bytes"),
    backend: f.backend === "" ? undefined : f.backend,
  };
}

/** The default names the repository's metadata wherever the process runs; other relative paths resolve against the working directory. */
function datasetMetaPath(raw: string): string | null {
  if (raw === "none" || raw === "") return null;
  if (raw === REFERENCE_FLAG_DEFAULTS.dataset_meta) return join(REPO_ROOT, raw);
  return resolve(raw);
}

export function parseMetricsPort(raw: string): number | null {
  if (raw === "off") return null;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65535) throw new ConfigError(`--metrics-port is ${JSON.stringify(raw)}; expected a port in [0, 65535] (0 picks a free one) or "off"`);
  return n;
}
