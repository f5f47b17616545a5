// GRPO math (docs/design.md, "The algorithm"): advantages, KL estimators, the loss on arrays and on tensors (any engine of @grpomesh/model's op set),
// per-step metrics. Pure functions: no I/O, no clock, no global state besides tfjs's own.

export type { AdvantageNorm, AdvantageOptions, AdvantageResult } from "./advantages.ts";
export { ADVANTAGE_NORMS, DEFAULT_EPS, DEFAULT_STD_FLOOR, dropZeroStdGroups, groupRelativeAdvantages } from "./advantages.ts";
export type { FillIns, TokenReduction } from "./batch.ts";
export { TOKEN_REDUCTIONS, checkFillIns } from "./batch.ts";
export type { KlEstimator } from "./kl.ts";
export { KL_ESTIMATORS, exactKl, k1Kl, k3Kl, klPerSample, sequenceLogProbs } from "./kl.ts";
export type { LossInputs, LossOptions, LossValues, ResolvedLossOptions } from "./loss.ts";
export { DEFAULT_LOSS_OPTIONS, LOSS_VALUE_KEYS, grpoLossArrays, resolveLossInputs, sliceLossInputs, sumLossValues } from "./loss.ts";
export type { KlMode, LossData, LossParts, LossSpec, LossTensors } from "./loss-graph.ts";
export { grpoLoss, lossData, lossDataShapes, lossSpec, readLossParts } from "./loss-graph.ts";
export { grpoLossAndGrads, grpoLossTensors } from "./loss-tf.ts";
export type { StepMetrics } from "./metrics.ts";
export { stepMetrics } from "./metrics.ts";
export type { ImportanceWeights } from "./importance.ts";
export { importanceWeights, weightAdvantages } from "./importance.ts";
