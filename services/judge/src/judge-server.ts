// The judge service: Score, Info and LoadModel over gRPC (with health and reflection from
// libs/rpc) and a Prometheus /metrics endpoint, wired around one ModelSlot.
import { DataType, JudgeService } from "@grpomesh/proto";
import { bindService, failedPrecondition, loadSecurity, startServer, type CallContext, type RunningServer, type Security } from "@grpomesh/rpc";
import { vocabularyDifference } from "@grpomesh/data";
import { createMetrics, startMetricsServer, type MetricsServer, type Registry } from "@grpomesh/metrics";
import { encodeTensor } from "@grpomesh/tensor";
import { checkValues, defaults } from "@grpomesh/config";
import { JUDGE_SETTINGS, judgeRelations, type JudgeConfig } from "./settings.ts";
import { MicroBatcher, type BatchResult } from "./batcher.ts";
import { resolveExecutionProvider, type ProviderSelection } from "@grpomesh/onnx-export/providers";
import { resolveParallelism, type Parallelism } from "./parallelism.ts";
import { JudgeMetrics } from "./judge-metrics.ts";
import { checkVersionField, loadJudgeModel, type LoadedModel } from "./loaded-model.ts";
import { ModelSlot } from "./model-slot.ts";
import { modelRoot, resolveModelPath, type ModelRoot } from "./repository.ts";
import { RepositoryWatcher } from "./repository-watcher.ts";
import { validateTokens, type TokenBatch } from "./tokens.ts";

export type JudgeServerOptions = Partial<JudgeConfig> & {
  /** TLS and the admin token; default: what config.tls_dir and config.admin_token_file name. */
  security?: Security;
  /** Where the repository poller reports loads and refusals (default: stdout, prefixed "judge: "). */
  log?: (line: string) => void;
};

export interface LoadResult {
  name: string;
  version: string;
  previousVersion: string | null;
  path: string;
  loadMs: number;
}

export interface JudgeServer {
  /** "host:port" of the gRPC server. */
  address: string;
  port: number;
  /** Port of /metrics, or null when off. */
  metricsPort: number | null;
  config: JudgeConfig;
  /** TLS and the admin credential the server runs with. */
  security: Security;
  /** The only folder models are loaded from, and where that choice came from. */
  modelRoot: ModelRoot;
  /** Sessions and threads per session actually used (config's 0s resolved). */
  parallelism: Parallelism;
  /** The execution provider in use (config's auto resolved), why, and its GPU adapter. */
  provider: ProviderSelection;
  registry: Registry;
  slot: ModelSlot;
  /** The repository poller (--repository_poll_ms), or null when off. */
  repository: RepositoryWatcher | null;
  /** Same as the LoadModel RPC: load beside the current model, check, swap. */
  loadModel(path: string, version?: string, checks?: LoadChecks): Promise<LoadResult>;
  shutdown(graceMs?: number): Promise<void>;
}

export interface LoadChecks {
  /** Refuse a model whose vocabulary differs from the served one's (the repository poller's rule). */
  sameVocabulary?: boolean;
  /** True once the caller gave up (a LoadModel past its deadline): the load is dropped, not swapped in. */
  cancelled?: () => boolean;
}

/**
 * Starts the judge: the gRPC server answers NOT_SERVING until the start model (if any) is loaded,
 * then SERVING, and stays SERVING through swaps. A start model that fails the contract stops the
 * server and rejects with the contract message.
 */
export async function startJudgeServer(options: JudgeServerOptions = {}): Promise<JudgeServer> {
  const { log = (line: string) => console.log(`judge: ${line}`), security: givenSecurity, ...overrides } = options;
  const config: JudgeConfig = { ...defaults(JUDGE_SETTINGS), ...overrides };
  checkValues(JUDGE_SETTINGS, config, judgeRelations);
  const security = givenSecurity ?? loadSecurity({ tlsDir: config.tls_dir, adminTokenFile: config.admin_token_file });
  // Fail at start, not at the first LoadModel, when the provider cannot work on this node.
  const provider = resolveExecutionProvider(config.execution_provider);
  const repository = modelRoot(config);
  const parallelism = resolveParallelism(config, provider.provider);
  const slot = new ModelSlot();
  const batchers = new WeakMap<LoadedModel, MicroBatcher>();
  const service = createMetrics("judge");
  const metrics = new JudgeMetrics(service.registry, () => {
    const m = slot.current;
    return (m && batchers.get(m)?.pendingRows) ?? 0;
  });

  // Assigned once the server listens; loads before that (none) would have nothing to mark SERVING.
  let rpc: RunningServer | undefined;
  // One queue per model, so a run never mixes model versions.
  function scoreOn(model: LoadedModel, batch: TokenBatch, ctx: CallContext): Promise<BatchResult> {
    return batchers.get(model)!.submit(batch.ids, batch.rows, batch.seqLen, () => ctx.cancelled());
  }

  function observeRun(model: LoadedModel, rows: number, seconds: number): void {
    const labels = { model: model.name, version: model.version };
    metrics.computeDuration.observe(labels, seconds);
    metrics.executionCount.inc(labels);
    metrics.executionBatchSize.observe(rows);
  }

  /** The repository poller's rule: a new version must keep every id's meaning. */
  function checkSameVocabulary(model: LoadedModel): void {
    const served = slot.current;
    if (!served) return;
    const difference = vocabularyDifference(
      { vocab: model.info.vocab },
      { vocab: served.info.vocab },
      {
        model: `judge model ${model.path} (${model.name} ${model.version})`,
        other: `model it would replace (${served.name} ${served.version})`,
      },
    );
    if (difference) {
      metrics.vocabularyRefusals.inc();
      throw failedPrecondition(`${difference}; use a judge trained on this corpus`);
    }
  }

  let loading: Promise<unknown> = Promise.resolve();
  /** Loads are serialized: two admins racing must not both think their model won. */
  function loadModel(requested: string, version?: string, checks: LoadChecks = {}): Promise<LoadResult> {
    let path: string;
    try {
      // Checked before waiting for other loads: a bad request is answered at once.
      path = resolveModelPath(requested, repository);
      if (version) checkVersionField(version);
    } catch (err) {
      return Promise.reject(err);
    }
    const abandoned = () => failedPrecondition(`LoadModel of ${path} was cancelled by its caller (deadline passed) before the swap; nothing was changed`);
    const next = loading.then(async (): Promise<LoadResult> => {
      if (checks.cancelled?.()) throw abandoned();
      const started = performance.now();
      let model: LoadedModel;
      try {
        model = await loadJudgeModel(path, {
          provider,
          threads: parallelism.threads,
          sessions: parallelism.sessions,
          version,
          runTokens: provider.provider === "cpu" ? config.run_tokens : 0,
        });
      } catch (err) {
        metrics.modelLoads.inc({ result: "failure" });
        throw err;
      }
      if (checks.sameVocabulary || checks.cancelled) {
        try {
          if (checks.sameVocabulary) checkSameVocabulary(model);
          // A caller that gave up believes the old model still serves: do not prove it wrong.
          if (checks.cancelled?.()) throw abandoned();
        } catch (err) {
          metrics.modelLoads.inc({ result: "failure" });
          model.release();
          await model.released;
          throw err;
        }
      }
      metrics.modelLoads.inc({ result: "success" });
      metrics.modelLoadDuration.observe((performance.now() - started) / 1000);
      batchers.set(
        model,
        new MicroBatcher((ids, rows, seqLen) => model.run(ids, rows, seqLen), {
          maxBatch: config.max_batch,
          windowMs: config.batch_window_ms,
          merge: config.scheduler === "microbatch",
          concurrentRuns: model.sessions.size,
          onRun: (rows, seconds) => observeRun(model, rows, seconds),
        }),
      );
      const previousVersion = slot.swap(model);
      rpc?.setServing(true);
      metrics.setModel({ model: model.name, version: model.version, path, executionProvider: model.executionProvider });
      return { name: model.name, version: model.version, previousVersion, path, loadMs: model.loadMs };
    });
    loading = next.catch(() => undefined);
    return next;
  }

  const handlers = bindService(
    JudgeService,
    {
      async score(request, ctx) {
        const model = slot.acquire();
        metrics.inflightRequests.inc();
        try {
          const batch = validateTokens(request.tokens, {
            vocabSize: model.info.vocab.length,
            seqLen: model.info.seqLen,
            inputDtype: model.info.inputDtype,
            maxBatch: config.max_batch,
            version: model.version,
          });
          metrics.requestBatchSize.observe(batch.rows);
          const result = await scoreOn(model, batch, ctx);
          const labels = { model: model.name, version: model.version };
          metrics.queueDuration.observe(labels, result.queueSeconds);
          metrics.inferenceCount.inc(labels, batch.rows);
          return { scores: encodeTensor(result.scores, [batch.rows]), modelName: model.name, modelVersion: model.version };
        } finally {
          metrics.inflightRequests.dec();
          model.release();
        }
      },

      info() {
        const model = slot.current;
        const common = { executionProvider: provider.provider, maxBatchSize: config.max_batch };
        if (!model) return common;
        return {
          ...common,
          modelName: model.name,
          modelVersion: model.version,
          inputName: model.info.inputName,
          inputDtype: model.info.inputDtype === "int64" ? DataType.INT64 : DataType.INT32,
          outputName: model.info.outputName,
          seqLen: model.info.seqLen ?? 0,
          vocab: model.info.vocab,
          modelPath: model.path,
        };
      },

      async loadModel(request, ctx) {
        const r = await loadModel(request.path, request.version || undefined, { cancelled: ctx.cancelled });
        return { modelName: r.name, modelVersion: r.version, previousVersion: r.previousVersion ?? "", loadMs: r.loadMs };
      },
    },
    ["LoadModel"],
  );

  rpc = await startServer({
    address: config.address,
    services: [handlers],
    maxReceiveMessageBytes: config.max_message_bytes,
    initiallyServing: false,
    onCall: service.observeCall,
    security,
  });
  let metricsServer: MetricsServer | null = null;
  let watcher: RepositoryWatcher | null = null;
  const running = rpc;
  const shutdown = async (graceMs = 2_000) => {
    await watcher?.stop();
    running.setServing(false);
    await running.shutdown(graceMs);
    await metricsServer?.close();
    await slot.close();
  };

  try {
    if (config.metrics_port !== "off") {
      metricsServer = await startMetricsServer({ port: config.metrics_port, host: config.metrics_host, registry: service.registry });
    }
    if (repository.startModel !== null) await loadModel(repository.startModel, config.model_version || undefined);
    if (config.repository_poll_ms > 0) {
      watcher = new RepositoryWatcher({
        root: repository.root,
        modelName: config.model_name || null,
        pollMs: config.repository_poll_ms,
        load: (path) => loadModel(path, undefined, { sameVocabulary: true }),
        log,
        startPath: slot.current?.path ?? null,
      });
      watcher.start();
    }
  } catch (err) {
    await shutdown(0);
    throw err;
  }

  return {
    address: running.address,
    port: running.port,
    metricsPort: metricsServer?.port ?? null,
    config,
    security,
    modelRoot: repository,
    parallelism,
    provider,
    registry: service.registry,
    slot,
    repository: watcher,
    loadModel,
    shutdown,
  };
}
