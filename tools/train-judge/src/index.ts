export { trainJudge, exportVerifiedJudge, scoreSequences, bceWithLogits, ONNX_FILE, SUMMARY_FILE, EXPORT_TOLERANCE } from "./train.ts";
export type { TrainJudgeResult, TrainJudgeHooks, EvalResult, StepInfo } from "./train.ts";
export { DEFAULT_OPTIONS, parseOptions, checkOptions } from "./options.ts";
export type { TrainJudgeOptions } from "./options.ts";
export { makeNegatives, OnnxGenerator } from "./negatives.ts";
export type { Negatives, NegativeKind, NegativeOptions } from "./negatives.ts";
export { accuracy, rocAuc } from "./metrics.ts";
