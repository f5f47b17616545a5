// Child of placement.ts: creates one onnxruntime session with verbose logging, so onnxruntime
// prints which execution provider each node was assigned to (on stderr), then exits. Plain
// JavaScript: it must start fast and load nothing but onnxruntime-node.
//   node placement-child.mjs MODEL.onnx '["webgpu","cpu"]' '{"graphOptimizationLevel":"all"}'
import ort from "onnxruntime-node";

const [model, providers, options] = process.argv.slice(2);
ort.env.logLevel = "verbose";
const session = await ort.InferenceSession.create(model, {
  executionProviders: JSON.parse(providers),
  graphOptimizationLevel: "all",
  ...JSON.parse(options ?? "{}"),
  logSeverityLevel: 0,
  logVerbosityLevel: 0,
});
await session.release();
process.stdout.write("placement-child: session created\n");
