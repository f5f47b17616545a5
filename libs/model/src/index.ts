export { initBackend, BACKEND_ENV, type BackendChoice, type BackendInfo } from "./backend.ts";
// config, safetensors, checkpoints, special tokens and the optimizer state layout (no tfjs)
export * from "./format.ts";
export { localAttentionInit } from "./local-init.ts";
export { MaskedTransformer, type ForwardOptions } from "./transformer.ts";
export { tfOps } from "./tf-ops.ts";
export {
  BANNED_LOGIT,
  computeLogits,
  logSoftmaxWithTemperature,
  maskedLogProbs,
  sampleFillIns,
  specialTokenIds,
  type FillIns,
  type LogitsSource,
  type MaskedInputs,
  type MaskedLogProbsOptions,
  type SampleOptions,
} from "./sampling.ts";
export {
  AdamW,
  clipGradNorm,
  cosineLearningRate,
  isDecayed,
  maskedLmLoss,
  maskedTokenAccuracy,
  trainStep,
  type AdamWOptions,
  type AdamWState,
  type CosineSchedule,
  type TrainStepOptions,
  type TrainStepResult,
} from "./train.ts";
