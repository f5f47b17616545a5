// The loop's policy and reference ports over gRPC: tensors in and out through the wire format.
import { DataType, PolicyService, ReferenceService } from "@grpomesh/proto";
import { createClient, RpcCallError, Status, type Client, type ClientOptions } from "@grpomesh/rpc";
import { decodeTensor, encodeTensor } from "@grpomesh/tensor";
import {
  encodeUpdateRequest,
  type BatchShape,
  type PolicyPort,
  type PolicyState,
  type ReferencePort,
  type SampleParams,
  type SampleResult,
  type UpdatePayload,
  type UpdateResult,
} from "@grpomesh/loop";

/** A role's address and the name its certificate must carry (undefined: the host dialled). */
export interface RoleEndpoint {
  target: string;
  tlsServerName?: string;
}

/**
 * Where policy and reference are, and the names their and the judges' certificates are checked
 * against: the *_tls_name settings, where empty means the host dialled (for the judges, the
 * Service name of a "dns:///" spec).
 */
export function roleEndpoints(cfg: { policy: string; reference: string; policy_tls_name: string; reference_tls_name: string; judges_tls_name: string }): {
  policy: RoleEndpoint;
  reference: RoleEndpoint;
  judgesTlsServerName?: string;
} {
  return {
    policy: { target: cfg.policy, tlsServerName: cfg.policy_tls_name || undefined },
    reference: { target: cfg.reference, tlsServerName: cfg.reference_tls_name || undefined },
    judgesTlsServerName: cfg.judges_tls_name || undefined,
  };
}

export class GrpcPolicy implements PolicyPort {
  readonly client: Client<typeof PolicyService>;
  constructor(target: string, opts: ClientOptions = {}) {
    this.client = createClient(PolicyService, target, { deadlineMs: 600_000, ...opts });
  }

  async sample(inputs: Int32Array, shape: BatchShape, params: SampleParams): Promise<SampleResult> {
    const res = await this.client.sample({
      inputs: encodeTensor(inputs, [shape.batch, shape.seqLen]),
      params: { temperature: params.temperature, topP: params.topP, groupSize: params.groupSize, seed: params.seed },
    });
    const k = params.groupSize;
    return {
      completions: decodeTensor(res.completions, { name: "completions", dtype: DataType.INT32, shape: [shape.batch, k, shape.seqLen] }).values,
      logProbs: decodeTensor(res.logProbs, { name: "log_probs", dtype: DataType.FLOAT32, shape: [shape.batch, k] }).values,
      policyVersion: res.policyVersion,
    };
  }

  async update(p: UpdatePayload): Promise<UpdateResult> {
    const res = await this.client.update(encodeUpdateRequest(p));
    const m = res.metrics;
    if (!m) throw new Error(`policy answered Update for step ${p.step} without metrics`);
    return {
      step: res.step,
      policyVersion: res.policyVersion,
      replayed: res.replayed,
      metrics: {
        loss: m.loss,
        pgLoss: m.pgLoss,
        klPenalty: m.klPenalty,
        meanKl: m.meanKl,
        meanLogProb: m.meanLogProb,
        gradNorm: m.gradNorm,
        learningRate: m.learningRate,
        clipFrac: m.clipFrac,
        updateMs: m.updateMs,
        tokens: m.tokens,
        staleness: m.staleness,
        importanceWeightMean: m.importanceWeightMean,
        importanceWeightMin: m.importanceWeightMin,
        importanceWeightMax: m.importanceWeightMax,
        importanceWeightCappedFrac: m.importanceWeightCappedFrac,
      },
    };
  }

  async saveCheckpoint(dir: string): Promise<PolicyState & { files: string[] }> {
    const r = await this.client.saveCheckpoint({ dir });
    return { files: r.files, policyVersion: r.policyVersion, lastStep: r.lastStep, weightsDigest: r.weightsDigest };
  }

  async loadCheckpoint(dir: string): Promise<PolicyState> {
    const r = await this.client.loadCheckpoint({ dir });
    return { policyVersion: r.policyVersion, lastStep: r.lastStep, weightsDigest: r.weightsDigest };
  }

  async state(): Promise<PolicyState> {
    const r = await this.client.info({});
    return { policyVersion: r.policyVersion, lastStep: r.lastStep, weightsDigest: r.weightsDigest };
  }

  close(): void {
    this.client.close();
  }
}

export interface ReferenceRetry {
  /** How long LogProbs keeps retrying a reference that is unreachable (restarting), in ms. 0: fail at once. */
  unavailableMs?: number;
  /** Told of each retry, e.g. "reference at … unavailable (…); retrying in 0.4 s". */
  log?: (line: string) => void;
}

/**
 * The reference over gRPC. It is frozen and LogProbs only reads, so a call that finds it
 * unreachable — a pod being replaced, a process the supervisor is restarting — is retried with
 * backoff for up to `unavailableMs` before the step fails.
 */
export class GrpcReference implements ReferencePort {
  readonly client: Client<typeof ReferenceService>;
  private readonly retry: Required<ReferenceRetry>;
  constructor(target: string, opts: ClientOptions & { retry?: ReferenceRetry } = {}) {
    const { retry, ...clientOptions } = opts;
    this.client = createClient(ReferenceService, target, { deadlineMs: 300_000, ...clientOptions });
    this.retry = { unavailableMs: 120_000, log: () => {}, ...retry };
  }

  async logProbs(inputs: Int32Array, shape: BatchShape, temperature: number): Promise<Float32Array> {
    const request = { inputs: encodeTensor(inputs, [shape.batch, shape.seqLen]), temperature, returnDistributions: true };
    const until = Date.now() + this.retry.unavailableMs;
    for (let backoffMs = 200; ; backoffMs = Math.min(backoffMs * 2, 5_000)) {
      try {
        const res = await this.client.logProbs(request);
        return decodeTensor(res.distributions, { name: "distributions", dtype: DataType.FLOAT32, shape: [shape.batch, shape.seqLen, null] }).values;
      } catch (err) {
        const unavailable = err instanceof RpcCallError && err.code === Status.UNAVAILABLE;
        if (!unavailable || Date.now() + backoffMs > until) throw err;
        this.retry.log(`reference at ${this.client.target} is unavailable (${err.details}); retrying in ${(backoffMs / 1000).toFixed(1)} s`);
        await new Promise((r) => setTimeout(r, backoffMs));
      }
    }
  }

  close(): void {
    this.client.close();
  }
}
