// The reference service: LogProbs and Info over gRPC (with health and reflection from libs/rpc)
// and a Prometheus /metrics endpoint, around one frozen ReferenceEngine. At start it refuses a
// checkpoint whose vocabulary differs from the dataset's.
import { ReferenceService } from "@grpomesh/proto";
import { bindService, invalidArgument, loadSecurity, serveWhileLoading, unavailable, type Security } from "@grpomesh/rpc";
import { Counter, Gauge, createMetrics, startMetricsServer, type Registry } from "@grpomesh/metrics";
import { decodeTokens, encodeTensor } from "@grpomesh/tensor";
import { ReferenceEngine, failedPrecondition, modelInfoMessage, type EngineChoice } from "@grpomesh/engine";
import { readCorpusMetadata } from "@grpomesh/data";
import { REFERENCE_FLAG_DEFAULTS, parseMetricsPort, type ReferenceServiceConfig } from "./config.ts";

export type ReferenceServerOptions = Partial<ReferenceServiceConfig> & {
  /** TLS and the admin token; default: what config.tlsDir and config.adminTokenFile name. */
  security?: Security;
};

export interface ReferenceServer {
  address: string;
  port: number;
  metricsPort: number | null;
  config: ReferenceServiceConfig;
  /** TLS and the admin credential the server runs with. */
  security: Security;
  engine: ReferenceEngine;
  registry: Registry;
  shutdown(graceMs?: number): Promise<void>;
}

/** Library defaults: as the command line's, except that no dataset check runs unless datasetMeta is given. */
export function defaultReferenceConfig(): ReferenceServiceConfig {
  const d = REFERENCE_FLAG_DEFAULTS;
  return {
    checkpoint: d.checkpoint,
    address: d.address,
    metricsPort: parseMetricsPort(d.metrics_port),
    metricsHost: d.metrics_host,
    tlsDir: null,
    adminTokenFile: null,
    datasetMeta: null,
    maxBatch: d.max_batch,
    maxCompletions: d.max_completions,
    maxMessageBytes: d.max_message_bytes,
    backend: undefined,
    engine: d.engine as EngineChoice,
    threads: d.threads || undefined,
    spinWait: d.spin_wait,
  };
}

/** The vocabulary of a dataset metadata file, for the start-time check. */
function datasetVocabulary(path: string) {
  let meta: ReturnType<typeof readCorpusMetadata>;
  try {
    meta = readCorpusMetadata(path);
  } catch (err) {
    throw failedPrecondition(`${(err as Error).message} (or pass --dataset-meta=none to skip the vocabulary check)`);
  }
  return { vocab: meta.vocab, maskTokenId: meta.mask_token_id, padTokenId: meta.pad_token_id, source: path };
}

/**
 * Starts the reference: NOT_SERVING (and UNAVAILABLE to calls) until the checkpoint is loaded and
 * checked against the dataset vocabulary, then SERVING. A refused checkpoint stops the server and
 * rejects with the reason.
 */
export async function startReferenceServer(options: ReferenceServerOptions = {}): Promise<ReferenceServer> {
  const { security: givenSecurity, ...overrides } = options;
  const config: ReferenceServiceConfig = { ...defaultReferenceConfig(), ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
  const security = givenSecurity ?? loadSecurity({ tlsDir: config.tlsDir, adminTokenFile: config.adminTokenFile });
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
    maxReceiveMessageBytes: config.maxMessageBytes,
    maxSendMessageBytes: config.maxMessageBytes,
    onCall: service.observeCall,
    security,
    startMetrics: async () =>
      config.metricsPort === null ? null : startMetricsServer({ port: config.metricsPort, host: config.metricsHost, registry: service.registry }),
    load: async () =>
      (engine = await ReferenceEngine.fromCheckpoint(config.checkpoint, {
        backend: config.backend,
        engine: config.engine,
        threads: config.threads,
        spinning: config.spinWait,
        datasetVocabulary: config.datasetMeta === null ? undefined : datasetVocabulary(config.datasetMeta),
        limits: { maxBatch: config.maxBatch, maxCompletions: config.maxCompletions },
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
