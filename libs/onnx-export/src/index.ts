export { buildForwardGraph, exportModelToOnnx, TOKENS_INPUT, LOGITS_OUTPUT, SCORE_OUTPUT, META_CONFIG } from "./export.ts";
export type { ExportOptions, ForwardGraphOptions } from "./export.ts";
export {
  inspectJudgeModel,
  readModelMetadata,
  formatShape,
  JudgeContractError,
  META_MODEL_TYPE,
  META_VOCAB,
  META_VERSION,
  META_NAME,
  SEQUENCE_SCORER,
} from "./contract.ts";
export type { JudgeModelInfo, SessionIo } from "./contract.ts";
export { quantizeModel, quantizeColumns, META_QUANTIZED } from "./quantize.ts";
export type { QuantizeOptions, QuantizeReport } from "./quantize.ts";
