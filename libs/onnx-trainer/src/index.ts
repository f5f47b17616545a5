export { TRAIN_INPUTS, adamwNames, buildAdamWGraph, buildTrainGraph, gradOutputName, type AdamWGroup, type TrainGraphSpec } from "./train-graph.ts";
export { OnnxTrainer, type LossAndGrads, type OnnxTrainerOptions } from "./trainer.ts";
