export { trainJudge, exportVerifiedJudge, scoreSequences, bceWithLogits, ONNX_FILE, SUMMARY_FILE, EXPORT_TOLERANCE } from "./train.ts";
export type { TrainJudgeResult, TrainJudgeHooks, EvalResult, StepInfo } from "./train.ts";
export { TRAIN_JUDGE_SETTINGS, trainJudgeRelations, type TrainJudgeConfig } from "./settings.ts";
export { makeNegatives, OnnxGenerator } from "./negatives.ts";
export type { Negatives, NegativeKind, NegativeOptions } from "./negatives.ts";
export { accuracy, rocAuc } from "./metrics.ts";
