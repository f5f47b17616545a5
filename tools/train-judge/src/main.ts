// Trains the default judge and exports models/judge/model.onnx:
//   node --import tsx tools/train-judge/src/main.ts [--key=value …]   (keys: see options.ts)
import { parseOptions } from "./options.ts";
import { trainJudge } from "./train.ts";

try {
  await trainJudge(parseOptions(process.argv.slice(2)));
} catch (err) {
  console.error(`train-judge: ${(err as Error).message}`);
  process.exit(1);
}
