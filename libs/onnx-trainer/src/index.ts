export {
  TRAIN_INPUTS,
  adamwNames,
  buildAdamWGraph,
  buildTrainGraph,
  graphLowering,
  gradOutputName,
  type AdamWGroup,
  type TrainGraphSpec,
} from "./train-graph.ts";
export { OnnxTrainer, type LossAndGrads, type OnnxTrainerOptions } from "./trainer.ts";
