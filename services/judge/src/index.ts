// The judge service as a library: start it in-process (tests, the local launcher) or run main.ts.
export { startJudgeServer, type JudgeServer, type JudgeServerOptions, type LoadChecks, type LoadResult } from "./judge-server.ts";
export { JUDGE_SETTINGS, JUDGE_ENV_PREFIX, judgeRelations, type JudgeConfig } from "./settings.ts";
export { checkVersionField, loadJudgeModel, LoadedModel, versionFromPath, versionLabel, type LoadModelOptions, type TokenIds } from "./loaded-model.ts";
export { ModelSlot } from "./model-slot.ts";
export { MicroBatcher, type BatchResult, type MicroBatcherOptions } from "./batcher.ts";
export { validateTokens, type TokenBatch, type TokenExpectation } from "./tokens.ts";
export { resolveExecutionProvider, cudaProviderInstalled, ExecutionProviderError, type ExecutionProvider } from "@grpomesh/onnx-export/providers";
export { modelRoot, resolveModelPath, DEFAULT_MODEL_REPOSITORY, type ModelRoot } from "./repository.ts";
export { randomScorerOnnx, scorerConfig, syntheticVocab, DEFAULT_JUDGE_ARCH } from "./random-scorer.ts";
export { resolveParallelism, cpuBudget, type Parallelism } from "./parallelism.ts";
export { SessionPool, SessionError, type SessionPoolOptions } from "./session-pool.ts";
