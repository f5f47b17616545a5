// What the GRPO loop needs from each role. The orchestrator implements these over gRPC; tests
// implement them in-process with the same engines, so the loop runs the same either way.
import type { TrainParams as WireTrainParams } from "@grpomesh/proto";

/** Shapes: B inputs of T tokens; k completions per input; V vocabulary entries. */
export interface BatchShape {
  batch: number;
  seqLen: number;
}

export interface SampleParams {
  temperature: number;
  topP: number;
  groupSize: number;
  /** Decimal string: the seed of this call's sampling streams. */
  seed: string;
}

export interface SampleResult {
  /** int32 [B, k, T]: inputs with every masked position filled. */
  completions: Int32Array;
  /** float32 [B, k]: Σ_{t∈M} log p_θ(a_t) at the sampling temperature (before top-p). */
  logProbs: Float32Array;
  policyVersion: number;
}

/**
 * The loss and optimizer settings of an Update: the generated proto message's fields (a field added
 * to TrainParams in proto/grpomesh/v1/policy.proto appears here by itself), with the two enums as
 * their names. encodeUpdateRequest and decodeTrainParams (wire.ts) are the only conversions
 * between the two.
 */
export type TrainParams = Omit<WireTrainParams, "$typeName" | "$unknown" | "klEstimator" | "tokenReduction"> & {
  klEstimator: "exact" | "k1" | "k3";
  tokenReduction: "sum" | "mean";
};

export interface UpdatePayload extends BatchShape {
  step: number;
  groupSize: number;
  inputs: Int32Array;
  completions: Int32Array;
  advantages: Float32Array;
  /** float32 [B, T, V] reference log-probs at masked positions. */
  refLogProbs: Float32Array;
  /** float32 [B, k] sampling-time log-probs (PPO ratios; the behaviour policy's of a pipelined step). */
  oldLogProbs: Float32Array;
  params: TrainParams;
  /**
   * The policy version that sampled the completions (SampleResult.policyVersion). Absent or the
   * policy's own version: a synchronous step. Older: the update weights each completion by
   * min(π_prox/π_behaviour, params.importanceWeightCap) (libs/grpo's importance.ts).
   */
  behaviourVersion?: number;
}

export interface UpdateMetrics {
  loss: number;
  pgLoss: number;
  klPenalty: number;
  meanKl: number;
  meanLogProb: number;
  gradNorm: number;
  learningRate: number;
  clipFrac: number;
  updateMs: number;
  tokens: number;
  /** Policy versions between the sampling weights and the weights the update started from. */
  staleness: number;
  /** The capped importance weights π_prox/π_behaviour over the batch (1 when staleness is 0). */
  importanceWeightMean: number;
  importanceWeightMin: number;
  importanceWeightMax: number;
  /** Share of completions whose weight was cut to the cap. */
  importanceWeightCappedFrac: number;
}

/** The off-policy metrics of a synchronous step: no staleness, every importance weight 1. */
export const SYNCHRONOUS_WEIGHTS = {
  staleness: 0,
  importanceWeightMean: 1,
  importanceWeightMin: 1,
  importanceWeightMax: 1,
  importanceWeightCappedFrac: 0,
} as const satisfies Partial<UpdateMetrics>;

export interface UpdateResult {
  step: number;
  policyVersion: number;
  metrics: UpdateMetrics;
  replayed: boolean;
}

export interface PolicyState {
  policyVersion: number;
  lastStep: number;
  weightsDigest: string;
}

export interface PolicyPort {
  sample(inputs: Int32Array, shape: BatchShape, params: SampleParams): Promise<SampleResult>;
  update(payload: UpdatePayload): Promise<UpdateResult>;
  saveCheckpoint(dir: string): Promise<PolicyState & { files: string[] }>;
  loadCheckpoint(dir: string): Promise<PolicyState>;
  state(): Promise<PolicyState>;
}

export interface ReferencePort {
  /** float32 [B, T, V] log p_ref at the temperature, at masked positions (zeros elsewhere). */
  logProbs(inputs: Int32Array, shape: BatchShape, temperature: number): Promise<Float32Array>;
}

export interface JudgeScores {
  /** float32 [N] in the order of the sequences given. */
  scores: Float32Array;
  /** The judge model version that scored each group (index = group number). */
  groupVersions: string[];
  /** With several named judges (the scores their weighted sum): each one's mean score over these sequences and its version(s). */
  judges?: Record<string, { mean: number; version: string }>;
}

export interface JudgePort {
  /** Scores N = groups·groupSize sequences of seqLen tokens; all members of a group by one version. */
  score(sequences: Int32Array, opts: { count: number; seqLen: number; groupSize: number }): Promise<JudgeScores>;
}

export interface MaskedBatchLike {
  inputs: Int32Array;
  targets: Int32Array;
  mask: Uint8Array;
  batchSize: number;
  seqLen: number;
}

export interface DataPort<Cursor = unknown> {
  next(): MaskedBatchLike;
  /** Where the next batch comes from; saved in checkpoints. */
  cursor(): Cursor;
  seek(cursor: Cursor): void;
  /** Fixed held-out batches for evaluation (same every call). */
  evalBatches(): MaskedBatchLike[];
  /** The task's verifier: does `completion` (one sequence: `input` with every mask filled) solve `input`? `target` is the data's own answer. */
  solved(input: Int32Array, completion: Int32Array, target: Int32Array): boolean;
}
