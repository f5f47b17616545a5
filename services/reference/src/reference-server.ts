// The reference service: LogProbs and Info over gRPC (with health and reflection from libs/rpc)
// and a Prometheus /metrics endpoint, around one frozen ReferenceEngine. At start it refuses a
// checkpoint whose vocabulary differs from the dataset's.
import { ReferenceService } from "@grpomesh/proto";
import { bindService, invalidArgument, loadSecurity, serveWhileLoading, unavailable, type Security } from "@grpomesh/rpc";
import { Counter, Gauge, createMetrics, startMetricsServer, type Registry } from "@grpomesh/metrics";
import { decodeTokens, encodeTensor } from "@grpomesh/tensor";
import { join, resolve } from "node:path";
import { ReferenceEngine, failedPrecondition, modelInfoMessage } from "@grpomesh/role-engines";
import { defaults } from "@grpomesh/config";
import { REPO_ROOT, readVocabularyFile, type Vocabulary } from "@grpomesh/data";
import { REFERENCE_SETTINGS, type ReferenceConfig } from "./settings.ts";

export type ReferenceServerOptions = Partial<ReferenceConfig> & {
  /** TLS and the admin token; default: what config.tls_dir and config.admin_token_file name. */
  security?: Security;
};

export interface ReferenceServer {
  address: string;
  port: number;
  metricsPort: number | null;
  config: ReferenceConfig;
  /** TLS and the admin credential the server runs with. */
  security: Security;
  engine: ReferenceEngine;
  registry: Registry;
  shutdown(graceMs?: number): Promise<void>;
}

/** dataset_meta as a path: null for none; the default names the repository's file wherever the process runs; others resolve against the working directory. */
export function datasetMetaPath(raw: string): string | null {
  if (raw === "none" || raw === "") return null;
  return raw === REFERENCE_SETTINGS.dataset_meta.default ? join(REPO_ROOT, raw) : resolve(raw);
}

/** The vocabulary of a dataset metadata file (any JSON with vocab, mask_token_id and pad_token_id), for the start-time check. */
function datasetVocabulary(path: string) {
  let vocab: Vocabulary;
  try {
    vocab = readVocabularyFile(path);
  } catch (err) {
    throw failedPrecondition(`${(err as Error).message} (or pass --dataset_meta=none to skip the vocabulary check)`);
  }
  return { vocab: vocab.tokens, maskTokenId: vocab.maskTokenId, padTokenId: vocab.padTokenId, source: path };
}

/**
 * Starts the reference: NOT_SERVING (and UNAVAILABLE to calls) until the checkpoint is loaded and
 * checked against the dataset vocabulary, then SERVING. A refused checkpoint stops the server and
 * rejects with the reason.
 */
export async function startReferenceServer(options: ReferenceServerOptions = {}): Promise<ReferenceServer> {
  const { security: givenSecurity, ...overrides } = options;
  const config: ReferenceConfig = { ...defaults(REFERENCE_SETTINGS), ...overrides };
  const security = givenSecurity ?? loadSecurity({ tlsDir: config.tls_dir, adminTokenFile: config.admin_token_file });
  const datasetMeta = datasetMetaPath(config.dataset_meta);
  const service = createMetrics("reference");
  const registers = [service.registry];
  const inputsServed = new Counter({ name: "reference_inputs_total", help: "Inputs whose log-probs were computed (one forward pass each).", registers });
  const modelGauge = new Gauge({
    name: "reference_model_info",
    help: "1 for the weights this reference serves (labels say which).",
    labelNames: ["checkpoint", "weights_digest", "backend"],
    registers,
  });
  let engine: ReferenceEngine | null = null;

  const handlers = bindService(
    ReferenceService,
    {
      async logProbs(req) {
        if (!engine) throw unavailable(`the reference is still loading its checkpoint ${config.checkpoint}; retry when health reports SERVING`);
        const inputs = decodeTokens(req.inputs, { name: "inputs", shape: [null, null] });
        const [B, T] = inputs.shape as [number, number];
        let completions: { completions: Int32Array; groupSize: number } | undefined;
        if (req.completions) {
          const c = decodeTokens(req.completions, { name: "completions", shape: [B, null, T] });
          completions = { completions: c.values, groupSize: c.shape[1]! };
        }
        if (!req.returnDistributions && !completions) {
          throw invalidArgument(
            "the request asks for nothing: set return_distributions (the [B, T, V] log-probs) or send completions (their summed log-probs)",
          );
        }
        const scored = await engine.score(inputs.values, { batch: B, seqLen: T }, req.temperature, completions);
        inputsServed.inc(B);
        return {
          distributions: req.returnDistributions ? encodeTensor(scored.distributions, [B, T, engine.config.vocab_size]) : undefined,
          completionLogProbs: completions ? encodeTensor(scored.completionLogProbs!, [B, completions.groupSize]) : undefined,
        };
      },

      info() {
        if (!engine) throw unavailable(`the reference is still loading its checkpoint ${config.checkpoint}; retry when health reports SERVING`);
        const i = engine.info();
        return { ...modelInfoMessage(i.config), backend: i.backend, weightsDigest: i.weightsDigest };
      },
      // Both RPCs only read: the reference's weights never change, so no method needs the admin token.
    },
    [],
  );

  const served = await serveWhileLoading({
    address: config.address,
    services: [handlers],
    maxReceiveMessageBytes: config.max_message_bytes,
    maxSendMessageBytes: config.max_message_bytes,
    onCall: service.observeCall,
    security,
    startMetrics: async () =>
      config.metrics_port === "off" ? null : startMetricsServer({ port: config.metrics_port, host: config.metrics_host, registry: service.registry }),
    load: async () =>
      (engine = await ReferenceEngine.fromCheckpoint(config.checkpoint, {
        backend: config.backend || undefined,
        engine: config.engine,
        executionProvider: config.execution_provider,
        threads: config.threads || undefined,
        spinning: config.spin_wait,
        datasetVocabulary: datasetMeta === null ? undefined : datasetVocabulary(datasetMeta),
        limits: { maxBatch: config.max_batch, maxCompletions: config.max_completions },
      })),
    dispose: (e) => e.close(),
  });
  const { rpc, shutdown } = served;
  const info = served.model.info();
  modelGauge.set({ checkpoint: config.checkpoint, weights_digest: info.weightsDigest, backend: info.backend }, 1);
  return {
    address: rpc.address,
    port: rpc.port,
    metricsPort: served.metricsPort,
    config,
    security,
    engine: served.model,
    registry: service.registry,
    shutdown,
  };
}
