// `@grpomesh/model/format`: everything about the model's files and arithmetic that needs no tensor
// engine (config, safetensors, checkpoints, special tokens, the optimizer's schedule and state
// layout). Engines other than tfjs import this entry so that loading them never loads tfjs.
export { TF_BACKENDS, type BackendChoice } from "./backend-names.ts";
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
export { decodeSafetensors, encodeSafetensors, safeTensor, type SafeData, type SafeDtype, type SafeTensor, type SafetensorsFile } from "./safetensors.ts";
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
export { BANNED_LOGIT, bannedMasks, specialTokenIds } from "./special-tokens.ts";
export {
  ADAMW_SCALARS,
  adamwScalars,
  adamwUpdate,
  checkOptimizerState,
  clipScale,
  cosineLearningRate,
  globalNorm,
  isDecayed,
  optimizerStateFromSafeTensors,
  optimizerStateToSafeTensors,
  type AdamWScalar,
  type AdamWSettings,
  type AdamWState,
  type CosineSchedule,
} from "./optim-math.ts";
