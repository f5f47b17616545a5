// The policy's command line: nanoGPT-style `--key=value` flags (libs/config: typed, unknown keys
// refused with the nearest known one) with POLICY_* environment fallbacks; flags win over env.
import { ENGINE_CHOICES, type EngineChoice } from "@grpomesh/engine";
import { atLeastOne, ConfigError, envUsage, parseConfigWithEnv, parsePortOrOff } from "@grpomesh/config";
import { SECURITY_FLAG_DEFAULTS } from "@grpomesh/rpc";

export const POLICY_FLAG_DEFAULTS = {
  /** Generator checkpoint folder (config.json + model.safetensors), or a policy checkpoint. */
  checkpoint: "models/generator",
  /** gRPC listen address; loopback unless told otherwise (a pod passes 0.0.0.0:50071). */
  address: "127.0.0.1:50071",
  /** Port of /metrics; 0 picks a free one, "off" disables. */
  metrics_port: "9465",
  /** Interface /metrics listens on (a pod passes 0.0.0.0 so Prometheus can scrape it). */
  metrics_host: "127.0.0.1",
  ...SECURITY_FLAG_DEFAULTS,
  /** Most inputs per Sample/Update. */
  max_batch: 256,
  /** Most completions (B·k) per Sample/Update. */
  max_completions: 8192,
  max_ppo_epochs: 16,
  /** Largest request in bytes (larger: RESOURCE_EXHAUSTED). */
  max_message_bytes: 64 * 1024 * 1024,
  /** Recent Update results kept (and checkpointed) to answer retries. */
  replay_window: 64,
  /** SaveCheckpoint/LoadCheckpoint folders must lie inside it (relative ones resolve against it); never unconfined. */
  checkpoint_root: "runs",
  /** What computes: auto = the fastest installed (onnxruntime CUDA → tfjs-node-gpu → onnxruntime CPU; docs/engine.md), onnx, or tfjs. */
  engine: "auto",
  /** onnxruntime intra-op threads; 0 = one per core. */
  threads: 0,
  /** onnxruntime threads spin-wait after a run: on for a node of its own, off (default) where the judge or another engine shares the cores. */
  spin_wait: false,
  /** tfjs backend when the engine is tfjs: empty = first installed of node-gpu, node, wasm, cpu. */
  backend: "",
};

export type PolicyFlags = typeof POLICY_FLAG_DEFAULTS;

export interface PolicyServiceConfig {
  checkpoint: string;
  address: string;
  /** null: no /metrics endpoint. */
  metricsPort: number | null;
  metricsHost: string;
  /** Folder of tls.crt, tls.key, ca.crt; null = plaintext. */
  tlsDir: string | null;
  /** File holding the admin token; null = state-changing RPCs refused. */
  adminTokenFile: string | null;
  maxBatch: number;
  maxCompletions: number;
  maxPpoEpochs: number;
  maxMessageBytes: number;
  replayWindow: number;
  checkpointRoot: string;
  backend: string | undefined;
  engine: EngineChoice;
  /** undefined: one per core. */
  threads: number | undefined;
  spinWait: boolean;
}

export const ENV_PREFIX = "POLICY_";

export { ConfigError };

/** `--help` text: every flag with its default and environment variable. */
export function policyUsage(): string {
  return envUsage(POLICY_FLAG_DEFAULTS, ENV_PREFIX, "node --import tsx services/policy/src/main.ts");
}

/** Flags override POLICY_* variables, which override the defaults. Throws ConfigError on any bad value. */
export function parsePolicyConfig(argv: readonly string[], env: Record<string, string | undefined> = {}): { config: PolicyServiceConfig; help: boolean } {
  const parsed = parseConfigWithEnv(POLICY_FLAG_DEFAULTS, {
    argv,
    env,
    envPrefix: ENV_PREFIX,
    integers: ["max_batch", "max_completions", "max_ppo_epochs", "max_message_bytes", "replay_window", "threads"],
    choices: { backend: ["", "wasm", "cpu", "node", "node-gpu"], engine: [...ENGINE_CHOICES] },
    maxPositional: 0,
  });
  return { config: toServiceConfig(parsed.config), help: parsed.help };
}

function toServiceConfig(f: PolicyFlags): PolicyServiceConfig {
  const positive = (key: keyof PolicyFlags) => atLeastOne(f[key] as number, `--${key.replace(/_/g, "-")}`);
  if (f.checkpoint === "") throw new ConfigError("--checkpoint is empty; expected a checkpoint folder (config.json + model.safetensors)");
  return {
    checkpoint: f.checkpoint,
    address: f.address,
    metricsPort: parseMetricsPort(f.metrics_port),
    metricsHost: f.metrics_host,
    tlsDir: f.tls_dir || null,
    adminTokenFile: f.admin_token_file || null,
    maxBatch: positive("max_batch"),
    maxCompletions: positive("max_completions"),
    maxPpoEpochs: positive("max_ppo_epochs"),
    maxMessageBytes: positive("max_message_bytes"),
    replayWindow: positive("replay_window"),
    checkpointRoot: nonEmpty(f.checkpoint_root, "--checkpoint-root", "a folder that confines SaveCheckpoint/LoadCheckpoint (default runs)"),
    backend: f.backend === "" ? undefined : f.backend,
    engine: f.engine as EngineChoice,
    threads: nonNegative(f.threads, "--threads") || undefined,
    spinWait: f.spin_wait,
  };
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
