export { evaluate, pretrain, type EvalResult, type PretrainResult } from "./pretrain.ts";
export { MASKING, PRETRAIN_SETTINGS, pretrainRelations, type PretrainConfig } from "./settings.ts";
