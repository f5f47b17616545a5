export { initBackend, BACKEND_ENV, type BackendChoice, type BackendInfo } from "./backend.ts";
export {
  DEFAULT_GENERATOR_ARCH,
  defaultGeneratorConfig,
  expectedTensorShapes,
  flopsPerToken,
  parameterCount,
  validateConfig,
  type ModelConfig,
  type ModelType,
} from "./config.ts";
export {
  decodeSafetensors,
  encodeSafetensors,
  safeTensor,
  type SafeData,
  type SafeDtype,
  type SafeTensor,
  type SafetensorsFile,
} from "./safetensors.ts";
export {
  CONFIG_FILE,
  WEIGHTS_FILE,
  checkWeightsAgainstConfig,
  loadCheckpoint,
  loadConfig,
  saveCheckpoint,
  weightsDigest,
  writeFileAtomic,
  type CheckpointContents,
  type LoadedCheckpoint,
  type Weights,
} from "./checkpoint.ts";
export { localAttentionInit } from "./local-init.ts";
export { MaskedTransformer, batchMatMul, geluTanh, matMul2d, type ForwardOptions } from "./transformer.ts";
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
