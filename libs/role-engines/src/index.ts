// The policy and reference engines: libs/model and libs/grpo behind the loop's PolicyPort and
// ReferencePort, so the GRPO loop runs on them in-process and services wrap them for gRPC.
export { PolicyEngine, updateDigest, type GradientResult, type PolicyEngineOptions, type PolicyInfo } from "./policy.ts";
export { ReferenceEngine, type ReferenceEngineOptions, type ReferenceInfo, type ReferenceScores } from "./reference.ts";
export { EngineError, GrpcCode, failedPrecondition, invalidArgument, notFound, resourceExhausted, type GrpcCodeValue } from "./errors.ts";
export {
  DEFAULT_LIMITS,
  checkIds,
  checkSampleParams,
  checkShape,
  checkTrainParams,
  checkUpdatePayload,
  resolveLimits,
  type CheckedUpdate,
  type EngineLimits,
  type ModelFacts,
} from "./validate.ts";
export { configDifference, vocabularyDifference, type VocabularyView } from "./vocab.ts";
export { completionLogProbsFrom } from "./log-probs.ts";
export {
  POLICY_STATE_FILE,
  POLICY_STATE_FORMAT,
  formatPolicyState,
  readPolicyState,
  type OptimizerSettings,
  type PolicyStateFile,
  type RecordedUpdate,
} from "./policy-state.ts";
export { SerialQueue } from "./serial.ts";
export { modelInfoMessage, modelStartFields, type ModelInfo } from "./model-info.ts";
export { ENGINE_CHOICES, ENGINE_NAMES, type EngineChoice, type EngineName, type ForwardBackend, type TrainingBackend } from "./backends/types.ts";
export { createTrainingBackend, selectEngine, type EngineSelection } from "./backends/choose.ts";
export { TfjsBackend } from "./backends/tfjs.ts";
export { accumulateGradients } from "./backends/accumulate.ts";
