// The policy service: Sample, Update, Info, SaveCheckpoint and LoadCheckpoint over gRPC (with
// health and reflection from libs/rpc) and a Prometheus /metrics endpoint, around one
// PolicyEngine. Handlers only decode tensors, call the engine and encode its answer.
import { DataType, PolicyService } from "@grpomesh/proto";
import { bindService, confinePath, invalidArgument, loadSecurity, serveWhileLoading, unavailable, type Security } from "@grpomesh/rpc";
import { createMetrics, startMetricsServer, type Registry } from "@grpomesh/metrics";
import { decodeTensor, decodeTokens, encodeTensor } from "@grpomesh/tensor";
import { PolicyEngine, modelInfoMessage } from "@grpomesh/role-engines";
import { defaults } from "@grpomesh/config";
import { decodeTrainParams } from "@grpomesh/loop";
import { POLICY_SETTINGS, type PolicyConfig } from "./settings.ts";
import { PolicyMetrics } from "./policy-metrics.ts";

export type PolicyServerOptions = Partial<PolicyConfig> & {
  /** Credentials already loaded (tests); default: loaded from tls_dir and admin_token_file. */
  security?: Security;
};

export interface PolicyServer {
  address: string;
  port: number;
  metricsPort: number | null;
  config: PolicyConfig;
  security: Security;
  engine: PolicyEngine;
  registry: Registry;
  /** Stops accepting calls, lets in-flight ones finish (up to graceMs), frees the model. */
  shutdown(graceMs?: number): Promise<void>;
}

/**
 * Starts the policy: the gRPC server answers NOT_SERVING (and UNAVAILABLE to calls) until the
 * checkpoint is loaded, then SERVING. A checkpoint that cannot be loaded stops the server and
 * rejects with the reason.
 */
export async function startPolicyServer(options: PolicyServerOptions = {}): Promise<PolicyServer> {
  const { security: given, ...settings } = options;
  const config: PolicyConfig = { ...defaults(POLICY_SETTINGS), ...settings };
  const security = given ?? loadSecurity({ tlsDir: config.tls_dir, adminTokenFile: config.admin_token_file });
  const service = createMetrics("policy");
  let engine: PolicyEngine | null = null;
  const metrics = new PolicyMetrics(service.registry, {
    policyVersion: () => engine?.policyVersion ?? 0,
    lastStep: () => engine?.lastStep ?? 0,
  });
  const need = (): PolicyEngine => {
    if (!engine) throw unavailable(`the policy is still loading its checkpoint ${config.checkpoint}; retry when health reports SERVING`);
    return engine;
  };
  const checkpointDir = (dir: string): string => confinePath(config.checkpoint_root, dir, "dir");

  const handlers = bindService(
    PolicyService,
    {
      async sample(req) {
        const e = need();
        const inputs = decodeTokens(req.inputs, { name: "inputs", shape: [null, null] });
        const [B, T] = inputs.shape as [number, number];
        const p = req.params;
        if (!p) throw invalidArgument("params is missing; expected SamplingParams {temperature, top_p, group_size, seed}");
        const r = await e.sample(inputs.values, { batch: B, seqLen: T }, { temperature: p.temperature, topP: p.topP, groupSize: p.groupSize, seed: p.seed });
        metrics.sampledSequences.inc(B * p.groupSize);
        return {
          completions: encodeTensor(r.completions, [B, p.groupSize, T]),
          logProbs: encodeTensor(r.logProbs, [B, p.groupSize]),
          policyVersion: r.policyVersion,
        };
      },

      async update(req) {
        const e = need();
        const V = e.config.vocab_size;
        const inputs = decodeTokens(req.inputs, { name: "inputs", shape: [null, null] });
        const [B, T] = inputs.shape as [number, number];
        const completions = decodeTokens(req.completions, { name: "completions", shape: [B, null, T] });
        const k = completions.shape[1]!;
        const advantages = decodeTensor(req.advantages, { name: "advantages", dtype: DataType.FLOAT32, shape: [B, k] });
        const refLogProbs = req.refLogProbs
          ? decodeTensor(req.refLogProbs, { name: "ref_log_probs", dtype: DataType.FLOAT32, shape: [B, T, V] }).values
          : new Float32Array(0);
        const oldLogProbs = req.oldLogProbs
          ? decodeTensor(req.oldLogProbs, { name: "old_log_probs", dtype: DataType.FLOAT32, shape: [B, k] }).values
          : new Float32Array(0);
        const params = decodeTrainParams(req.params);
        const r = await e.update({
          step: req.step,
          batch: B,
          seqLen: T,
          groupSize: k,
          inputs: inputs.values,
          completions: completions.values,
          advantages: advantages.values,
          refLogProbs,
          oldLogProbs,
          params,
          ...(req.behaviourVersion !== undefined ? { behaviourVersion: req.behaviourVersion } : {}),
        });
        metrics.updates.inc({ result: r.replayed ? "replayed" : "applied" });
        if (!r.replayed) {
          metrics.updateDuration.observe(r.metrics.updateMs / 1000);
          metrics.gradNorm.observe(r.metrics.gradNorm);
        }
        return { step: r.step, policyVersion: r.policyVersion, replayed: r.replayed, metrics: r.metrics };
      },

      async info() {
        const e = need();
        const i = await e.info();
        return {
          ...modelInfoMessage(i.config),
          policyVersion: i.policyVersion,
          lastStep: i.lastStep,
          backend: i.backend,
          parameterCount: i.parameterCount,
          weightsDigest: i.weightsDigest,
        };
      },

      async saveCheckpoint(req) {
        const e = need();
        return e.saveCheckpoint(checkpointDir(req.dir));
      },

      async loadCheckpoint(req) {
        const e = need();
        return e.loadCheckpoint(checkpointDir(req.dir));
      },
    },
    ["Update", "SaveCheckpoint", "LoadCheckpoint"],
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
      (engine = await PolicyEngine.fromCheckpoint(config.checkpoint, {
        backend: config.backend || undefined,
        engine: config.engine,
        executionProvider: config.execution_provider,
        threads: config.threads || undefined,
        spinning: config.spin_wait,
        replayWindow: config.replay_window,
        limits: { maxBatch: config.max_batch, maxCompletions: config.max_completions, maxPpoEpochs: config.max_ppo_epochs },
      })),
    dispose: (e) => e.close(),
  });
  return {
    address: served.rpc.address,
    port: served.rpc.port,
    metricsPort: served.metricsPort,
    config,
    security,
    engine: served.model,
    registry: service.registry,
    shutdown: served.shutdown,
  };
}
