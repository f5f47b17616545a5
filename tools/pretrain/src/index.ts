export { DEFAULTS, evaluate, parseArgs, pretrain, type EvalResult, type PretrainOptions, type PretrainResult } from "./pretrain.ts";
