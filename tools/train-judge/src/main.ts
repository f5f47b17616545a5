// Trains the default judge and exports models/judge/model.onnx:
//   npm run train-judge -- [--key=value …]   (`--help` lists the settings: settings.ts)
import { parseCommandLine } from "@grpomesh/config";
import { TRAIN_JUDGE_ENV_PREFIX, TRAIN_JUDGE_SETTINGS, trainJudgeRelations } from "./settings.ts";
import { trainJudge } from "./train.ts";

const { config } = parseCommandLine(TRAIN_JUDGE_SETTINGS, "npm run train-judge --", { check: trainJudgeRelations, envPrefix: TRAIN_JUDGE_ENV_PREFIX });
try {
  await trainJudge(config);
} catch (err) {
  console.error(`train-judge: ${(err as Error).message}`);
  process.exit(1);
}
