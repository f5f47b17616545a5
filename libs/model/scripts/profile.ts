import * as tf from "@tensorflow/tfjs-core";
import { initBackend, MaskedTransformer, defaultGeneratorConfig, AdamW, trainStep, maskedLmLoss } from "../src/index.ts";
await initBackend("wasm", { log: false });
const vocab = ["[PAD]", "[MASK]", ...Array.from({ length: 73 }, (_, i) => String.fromCharCode(32 + i))];
const config = defaultGeneratorConfig(vocab);
const model = new MaskedTransformer(config, { seed: 1 });
const opt = new AdamW(model.variables, { weightDecay: 0.1 });
const B = 32,
  T = 128;
const ids = tf.randomUniformInt([B, T], 0, 75) as tf.Tensor2D;
const mask = tf.cast(tf.less(tf.randomUniform([B, T]), 0.15), "float32");
const run = () => trainStep(() => maskedLmLoss(model.forward(ids, { training: true }), ids, mask), { optimizer: opt, learningRate: 1e-3 });
run();
const info = await tf.profile(() => {
  run();
});
const agg = new Map<string, { ms: number; n: number }>();
for (const k of info.kernels) {
  const key = k.name + " " + k.inputShapes.map((s) => `[${s}]`).join("");
  const a = agg.get(key) ?? { ms: 0, n: 0 };
  a.ms += k.kernelTimeMs as number;
  a.n++;
  agg.set(key, a);
}
const rows = [...agg.entries()].sort((a, b) => b[1].ms - a[1].ms);
const total = rows.reduce((s, r) => s + r[1].ms, 0);
console.log("total kernel ms", total.toFixed(0));
for (const [k, v] of rows.slice(0, 30)) console.log(v.ms.toFixed(1).padStart(8), String(v.n).padStart(4), k);
