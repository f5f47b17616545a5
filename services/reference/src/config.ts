// The reference's command line: nanoGPT-style `--key=value` flags (libs/config: typed, unknown keys
// refused with the nearest known one) with REFERENCE_* environment fallbacks; flags win over env.
import { join, resolve } from "node:path";
import { ENGINE_CHOICES, type EngineChoice } from "@grpomesh/engine";
import { atLeastOne, ConfigError, envUsage, parseConfigWithEnv, parsePortOrOff } from "@grpomesh/config";
import { REPO_ROOT } from "@grpomesh/data";
import { SECURITY_FLAG_DEFAULTS } from "@grpomesh/rpc";

export const REFERENCE_FLAG_DEFAULTS = {
  /** Generator checkpoint folder (config.json + model.safetensors): the policy's starting point. */
  checkpoint: "models/generator",
  /** gRPC listen address; loopback unless told otherwise (a pod passes 0.0.0.0:50072). */
  address: "127.0.0.1:50072",
  /** Port of /metrics; 0 picks a free one, "off" disables. */
  metrics_port: "9466",
  /** Interface /metrics listens on (a pod passes 0.0.0.0 so Prometheus can scrape it). */
  metrics_host: "127.0.0.1",
  ...SECURITY_FLAG_DEFAULTS,
  /** Dataset metadata whose vocabulary the checkpoint must speak; "none" skips the check. The default is the repository's. */
  dataset_meta: "data/corpus/kjv.meta.json",
  /** Most inputs per LogProbs request. */
  max_batch: 256,
  /** Most completions (B·k) per LogProbs request. */
  max_completions: 8192,
  /** Largest request in bytes (larger: RESOURCE_EXHAUSTED). */
  max_message_bytes: 64 * 1024 * 1024,
  /** What computes: auto = the fastest installed (onnxruntime CUDA → tfjs-node-gpu → onnxruntime CPU; docs/engine.md), onnx, or tfjs. */
  engine: "auto",
  /** onnxruntime intra-op threads; 0 = one per core. */
  threads: 0,
  /** onnxruntime threads spin-wait after a run: on for a node of its own, off (default) where the judge or another engine shares the cores. */
  spin_wait: false,
  /** tfjs backend when the engine is tfjs: empty = first installed of node-gpu, node, wasm, cpu. */
  backend: "",
};

export type ReferenceFlags = typeof REFERENCE_FLAG_DEFAULTS;

export interface ReferenceServiceConfig {
  checkpoint: string;
  address: string;
  /** null: no /metrics endpoint. */
  metricsPort: number | null;
  metricsHost: string;
  /** Folder of tls.crt, tls.key, ca.crt; null = plaintext. */
  tlsDir: string | null;
  /** File holding the admin token; null = none (the reference has no state-changing RPC; the token is only checked for form). */
  adminTokenFile: string | null;
  /** null: no vocabulary check. */
  datasetMeta: string | null;
  maxBatch: number;
  maxCompletions: number;
  maxMessageBytes: number;
  backend: string | undefined;
  engine: EngineChoice;
  /** undefined: one per core. */
  threads: number | undefined;
  spinWait: boolean;
}

export const ENV_PREFIX = "REFERENCE_";

export { ConfigError };

/** `--help` text: every flag with its default and environment variable. */
export function referenceUsage(): string {
  return envUsage(REFERENCE_FLAG_DEFAULTS, ENV_PREFIX, "node --import tsx services/reference/src/main.ts");
}

/** Flags override REFERENCE_* variables, which override the defaults. Throws ConfigError on any bad value. */
export function parseReferenceConfig(argv: readonly string[], env: Record<string, string | undefined> = {}): { config: ReferenceServiceConfig; help: boolean } {
  const parsed = parseConfigWithEnv(REFERENCE_FLAG_DEFAULTS, {
    argv,
    env,
    envPrefix: ENV_PREFIX,
    integers: ["max_batch", "max_completions", "max_message_bytes", "threads"],
    choices: { backend: ["", "wasm", "cpu", "node", "node-gpu"], engine: [...ENGINE_CHOICES] },
    maxPositional: 0,
  });
  return { config: toServiceConfig(parsed.config), help: parsed.help };
}

function toServiceConfig(f: ReferenceFlags): ReferenceServiceConfig {
  const positive = (key: keyof ReferenceFlags) => atLeastOne(f[key] as number, `--${key.replace(/_/g, "-")}`);
  if (f.checkpoint === "") throw new ConfigError("--checkpoint is empty; expected a checkpoint folder (config.json + model.safetensors)");
  return {
    checkpoint: f.checkpoint,
    address: f.address,
    metricsPort: parseMetricsPort(f.metrics_port),
    metricsHost: nonEmpty(f.metrics_host, "--metrics-host", "an interface address such as 127.0.0.1 or 0.0.0.0"),
    tlsDir: f.tls_dir || null,
    adminTokenFile: f.admin_token_file || null,
    datasetMeta: datasetMetaPath(f.dataset_meta),
    maxBatch: positive("max_batch"),
    maxCompletions: positive("max_completions"),
    maxMessageBytes: positive("max_message_bytes"),
    backend: f.backend === "" ? undefined : f.backend,
    engine: f.engine as EngineChoice,
    threads: nonNegative(f.threads, "--threads") || undefined,
    spinWait: f.spin_wait,
  };
}

/** The default names the repository's metadata wherever the process runs; other relative paths resolve against the working directory. */
function datasetMetaPath(raw: string): string | null {
  if (raw === "none" || raw === "") return null;
  if (raw === REFERENCE_FLAG_DEFAULTS.dataset_meta) return join(REPO_ROOT, raw);
  return resolve(raw);
}

export function parseMetricsPort(raw: string): number | null {
  return parsePortOrOff(raw, "--metrics-port");
}

function nonEmpty(value: string, flag: string, expected: string): string {
  if (value === "") throw new ConfigError(`${flag} is empty; expected ${expected}`);
  return value;
}

function nonNegative(n: number, flag: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new ConfigError(`${flag} is ${n}; expected an integer ≥ 0 (0 = one per core)`);
  return n;
}
