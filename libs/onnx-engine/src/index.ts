export { Tape, broadcastShapes, sizeOf, type Backward, type DType, type Value } from "./autodiff.ts";
export {
  IDS_INPUT,
  LOGITS_OUTPUT,
  METRIC_OUTPUTS,
  TRAIN_INPUTS,
  buildForwardGraph,
  buildTrainGraph,
  emitLogits,
  gradOutputName,
  type EmbeddingMode,
  type ForwardGraphOptions,
  type KlMode,
  type TrainGraphSpec,
} from "./transformer-graph.ts";
export { ADAMW_SCALARS, adamwNames, buildAdamWGraph, type AdamWGroup, type AdamWScalar } from "./adamw-graph.ts";
export { OnnxTrainer, type AdamWStepOptions, type LossAndGrads, type OnnxTrainerOptions } from "./trainer.ts";
