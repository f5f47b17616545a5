import * as tf from "@tensorflow/tfjs-core";
import { initBackend, MaskedTransformer, defaultGeneratorConfig, AdamW, trainStep, maskedLmLoss, parameterCount } from "../src/index.ts";
await initBackend("wasm");
const vocab = ["[PAD]", "[MASK]", ...Array.from({ length: 73 }, (_, i) => String.fromCharCode(32 + i))];
const config = defaultGeneratorConfig(vocab);
console.log("params", parameterCount(config));
const model = new MaskedTransformer(config, { seed: 1 });
const opt = new AdamW(model.variables, { weightDecay: 0.1 });
for (const B of [16, 64]) {
  const T = 128;
  const ids = tf.randomUniformInt([B, T], 0, 75) as tf.Tensor2D;
  const mask = tf.cast(tf.less(tf.randomUniform([B, T]), 0.15), "float32");
  for (let r = 0; r < 2; r++) {
    let t0 = performance.now();
    const out = model.forward(ids); await out.data(); out.dispose();
    const fwd = performance.now() - t0;
    t0 = performance.now();
    const res = trainStep(() => maskedLmLoss(model.forward(ids, { training: true }), ids, mask), { optimizer: opt, learningRate: 1e-3 });
    const step = performance.now() - t0;
    console.log(`B=${B} fwd ${fwd.toFixed(0)} ms (${(B * T / fwd * 1000).toFixed(0)} tok/s) step ${step.toFixed(0)} ms (${(B * T / step * 1000).toFixed(0)} tok/s) loss ${res.loss.toFixed(3)} norm ${res.gradNorm.toFixed(3)} tensors ${tf.memory().numTensors}`);
  }
  ids.dispose(); mask.dispose();
}
