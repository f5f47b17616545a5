// The judge's command line: `--key=value` flags with JUDGE_* environment fallbacks, checked
// against the defaults' types; unknown flags are refused so a typo cannot pass silently.
import { DEFAULT_RUN_TOKENS } from "@grpomesh/onnx/pieces";
import { ConfigError } from "@grpomesh/config";

import type { ExecutionProvider } from "@grpomesh/onnx/providers";
export type { ExecutionProvider };
/** How concurrent Score requests reach onnxruntime: merged into one run, or one run each (README, "Concurrency"). */
export type Scheduler = "microbatch" | "parallel";

export interface JudgeConfig {
  /** Model to load at start; none means NOT_SERVING until a LoadModel call. */
  model: string | null;
  /** Version label for the start model; default: its grpomesh.version metadata, else its digest. */
  modelVersion: string | null;
  /**
   * The only folder LoadModel (and the poller) may load from; relative paths resolve against it.
   * null: the folder of --model, or `models` in the working directory when there is no --model.
   */
  modelRepository: string | null;
  /** Poll the repository every this many ms and serve its highest complete version; 0 = no polling. */
  repositoryPollMs: number;
  /** The repository's model folder the poller follows; null = the only one present. */
  modelName: string | null;
  address: string;
  /** Port of the Prometheus /metrics endpoint; null turns it off, 0 picks a free port. */
  metricsPort: number | null;
  /** Interface /metrics listens on (a pod passes 0.0.0.0 so Prometheus can scrape it). */
  metricsHost: string;
  /** Folder with tls.crt, tls.key and ca.crt (a Kubernetes TLS Secret); null: plaintext. */
  tlsDir: string | null;
  /** File holding the admin token LoadModel requires; null: LoadModel is refused. */
  adminTokenFile: string | null;
  /** Most sequences one Score request may carry (and one micro-batch may hold). */
  maxBatch: number;
  /** Largest request accepted; larger ones get RESOURCE_EXHAUSTED. */
  maxMessageBytes: number;
  executionProvider: ExecutionProvider;
  /** onnxruntime intra-op threads per session; 0: the CPUs split among the sessions. */
  threads: number;
  /** onnxruntime sessions (worker threads) per model, i.e. runs in flight at once; 0: one per CPU (1 on cuda). */
  sessions: number;
  scheduler: Scheduler;
  /** Micro-batcher: how long the first request of an idle queue waits for company. */
  batchWindowMs: number;
  /** Most tokens (rows × seq_len) per onnxruntime run; larger requests run in pieces. 0: whole requests. */
  runTokens: number;
}

export const DEFAULT_JUDGE_CONFIG: JudgeConfig = {
  model: null,
  modelVersion: null,
  modelRepository: null,
  repositoryPollMs: 0,
  modelName: null,
  address: "127.0.0.1:50051",
  metricsPort: 9464,
  metricsHost: "127.0.0.1",
  tlsDir: null,
  adminTokenFile: null,
  maxBatch: 1024,
  maxMessageBytes: 64 * 1024 * 1024,
  executionProvider: "cpu",
  threads: 0,
  sessions: 0,
  scheduler: "parallel",
  batchWindowMs: 0,
  runTokens: DEFAULT_RUN_TOKENS,
};

interface FlagSpec {
  key: keyof JudgeConfig;
  env: string;
  kind: "path" | "optional-path" | "string" | "name" | "port" | "int" | "provider" | "scheduler";
  help: string;
  /** What the usage shows as the default when the value alone does not say it. */
  defaultText?: string;
}

const FLAGS: Record<string, FlagSpec> = {
  model: { key: "model", env: "JUDGE_MODEL", kind: "path", help: "ONNX judge model to load at start (omit to wait for LoadModel)" },
  "model-version": {
    key: "modelVersion",
    env: "JUDGE_MODEL_VERSION",
    kind: "string",
    help: "version label of --model (default: its grpomesh.version metadata, else sha256 digest)",
  },
  "model-repository": {
    key: "modelRepository",
    env: "JUDGE_MODEL_REPOSITORY",
    kind: "path",
    help: "the only directory --model, LoadModel and the poller load from (relative paths resolve against it; symlinks out of it are refused)",
    defaultText: "the folder of --model, else ./models",
  },
  "repository-poll-ms": {
    key: "repositoryPollMs",
    env: "JUDGE_REPOSITORY_POLL_MS",
    kind: "int",
    help: "poll --model-repository every N ms and serve its highest complete <name>/<version>/model.onnx; 0 = off",
  },
  "model-name": { key: "modelName", env: "JUDGE_MODEL_NAME", kind: "name", help: "the repository folder the poller follows (default: the only one present)" },
  address: {
    key: "address",
    env: "JUDGE_ADDRESS",
    kind: "string",
    help: "gRPC listen address host:port (port 0 picks a free one; a pod passes 0.0.0.0:50051)",
  },
  "metrics-port": { key: "metricsPort", env: "JUDGE_METRICS_PORT", kind: "port", help: "Prometheus /metrics port; 0 picks a free one, 'off' disables" },
  "metrics-host": { key: "metricsHost", env: "JUDGE_METRICS_HOST", kind: "string", help: "interface /metrics listens on (a pod passes 0.0.0.0)" },
  "tls-dir": {
    key: "tlsDir",
    env: "JUDGE_TLS_DIR",
    kind: "optional-path",
    help: "folder with tls.crt, tls.key and ca.crt (a Kubernetes TLS Secret); with ca.crt clients need certificates (mTLS); empty = plaintext",
  },
  "admin-token-file": {
    key: "adminTokenFile",
    env: "JUDGE_ADMIN_TOKEN_FILE",
    kind: "optional-path",
    help: "file holding the admin token LoadModel requires (authorization: Bearer <token>); empty = LoadModel refused",
  },
  "max-batch": { key: "maxBatch", env: "JUDGE_MAX_BATCH", kind: "int", help: "most sequences per Score request and per micro-batch" },
  "max-message-bytes": { key: "maxMessageBytes", env: "JUDGE_MAX_MESSAGE_BYTES", kind: "int", help: "largest request in bytes (larger: RESOURCE_EXHAUSTED)" },
  "execution-provider": { key: "executionProvider", env: "JUDGE_EXECUTION_PROVIDER", kind: "provider", help: "cpu or cuda" },
  threads: { key: "threads", env: "JUDGE_THREADS", kind: "int", help: "onnxruntime intra-op threads per session; 0 = the CPUs split among the sessions" },
  sessions: {
    key: "sessions",
    env: "JUDGE_SESSIONS",
    kind: "int",
    help: "onnxruntime sessions (worker threads) per model, i.e. runs in flight at once; 0 = one per CPU (1 on cuda)",
  },
  scheduler: {
    key: "scheduler",
    env: "JUDGE_SCHEDULER",
    kind: "scheduler",
    help: "microbatch (concatenate queued requests into one run) or parallel (one run per request, up to --sessions at once)",
  },
  "batch-window-ms": {
    key: "batchWindowMs",
    env: "JUDGE_BATCH_WINDOW_MS",
    kind: "int",
    help: "microbatch: ms an idle queue waits for more requests before running",
  },
  "run-tokens": {
    key: "runTokens",
    env: "JUDGE_RUN_TOKENS",
    kind: "int",
    help: "most tokens (rows × seq_len) per onnxruntime run; larger requests run in pieces, which keeps activations in cache (≈1.5× faster on CPU; cuda always runs whole requests); 0 = whole requests",
  },
};

export { ConfigError };

/** Usage text for --help and for errors. */
export function judgeUsage(): string {
  const lines = Object.entries(FLAGS).map(([flag, spec]) => {
    const def = DEFAULT_JUDGE_CONFIG[spec.key];
    return `  --${flag}=…`.padEnd(26) + `${spec.help} [env ${spec.env}; default ${spec.defaultText ?? (def === null ? "none" : def)}]`;
  });
  return ["usage: node --import tsx services/judge/src/main.ts [--flag=value …]", ...lines].join("\n");
}

function parseValue(flag: string, spec: FlagSpec, raw: string, source: string): JudgeConfig[keyof JudgeConfig] {
  const bad = (expected: string) => new ConfigError(`${source} is ${JSON.stringify(raw)}; expected ${expected}`);
  switch (spec.kind) {
    case "optional-path":
      return raw === "" ? null : raw;
    case "path":
    case "string":
      if (raw === "") throw bad(spec.kind === "path" ? "a non-empty path" : "a non-empty string");
      return raw;
    case "name":
      if (!/^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(raw)) throw bad("a folder name inside the model repository (letters, digits, '.', '_', '-')");
      return raw;
    case "port": {
      if (raw === "off") return null;
      const n = Number(raw);
      if (!/^\d+$/.test(raw) || n > 65535) throw bad("a port in [0, 65535] or 'off'");
      return n;
    }
    case "int": {
      const n = Number(raw);
      const min = flag === "threads" || flag === "sessions" || flag === "batch-window-ms" || flag === "repository-poll-ms" || flag === "run-tokens" ? 0 : 1;
      if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min) throw bad(`an integer ≥ ${min}`);
      return n;
    }
    case "provider":
      if (raw !== "cpu" && raw !== "cuda") throw bad("cpu or cuda");
      return raw;
    case "scheduler":
      if (raw !== "microbatch" && raw !== "parallel") throw bad("microbatch or parallel");
      return raw;
  }
}

/**
 * Flags override environment variables, which override the defaults. Throws ConfigError naming
 * the flag or variable at fault. `--help` is the caller's business (see `wantsHelp`).
 */
export function parseJudgeConfig(argv: readonly string[], env: Record<string, string | undefined> = {}): JudgeConfig {
  const config: JudgeConfig = { ...DEFAULT_JUDGE_CONFIG };
  const set = (spec: FlagSpec, value: JudgeConfig[keyof JudgeConfig]) => {
    (config as unknown as Record<string, unknown>)[spec.key] = value;
  };
  for (const [flag, spec] of Object.entries(FLAGS)) {
    const raw = env[spec.env];
    if (raw !== undefined) set(spec, parseValue(flag, spec, raw, `environment variable ${spec.env}`));
  }
  for (const arg of argv) {
    const m = /^--([a-z-]+)=(.*)$/s.exec(arg);
    if (!m) throw new ConfigError(`argument ${JSON.stringify(arg)} is not of the form --flag=value; run with --help for the flags`);
    const spec = FLAGS[m[1]!];
    if (!spec)
      throw new ConfigError(
        `unknown flag --${m[1]}; known flags: ${Object.keys(FLAGS)
          .map((f) => `--${f}`)
          .join(", ")}`,
      );
    set(spec, parseValue(m[1]!, spec, m[2]!, `--${m[1]}`));
  }
  checkJudgeConfig(config);
  return config;
}

/** Flags that only make sense together; startJudgeServer checks the same for in-process callers. */
export function checkJudgeConfig(config: JudgeConfig): void {
  if (config.repositoryPollMs > 0 && config.modelRepository === null) {
    throw new ConfigError(
      `--repository-poll-ms is ${config.repositoryPollMs} but no --model-repository is set; give the repository to poll, or --repository-poll-ms=0`,
    );
  }
  if (config.modelName !== null && config.repositoryPollMs === 0) {
    throw new ConfigError(
      `--model-name is ${JSON.stringify(config.modelName)} but the repository is not polled; set --repository-poll-ms (e.g. 5000) with --model-repository, or drop --model-name`,
    );
  }
}

export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes("--help") || argv.includes("-h");
}
