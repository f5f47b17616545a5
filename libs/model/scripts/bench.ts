// Forward and train-step timings of the default generator on the current backend.
//   node --import tsx libs/model/scripts/bench.ts [--batches=16,64]
import * as tf from "@tensorflow/tfjs-core";
import { parseCommandLine, setting, z } from "@grpomesh/config";
import { AdamW, defaultGeneratorConfig, flopsPerToken, initBackend, MaskedTransformer, maskedLmLoss, parameterCount, trainStep } from "../src/index.ts";

const { config: o } = parseCommandLine(
  {
    batches: setting(
      z.string().refine((s) => /^\d+(,\d+)*$/.test(s), "batch sizes separated by commas, like 16,64"),
      "16,64",
      "batch sizes to time, separated by commas",
    ),
  },
  "node --import tsx libs/model/scripts/bench.ts",
);
const info = await initBackend();
const vocab = ["[PAD]", "[MASK]", ...Array.from({ length: 73 }, (_, i) => String.fromCharCode(32 + i))];
const config = defaultGeneratorConfig(vocab);
const flops = flopsPerToken(config);
const model = new MaskedTransformer(config, { seed: 1 });
const optimizer = new AdamW(model.variables, { weightDecay: 0.1 });
console.log(
  `${parameterCount(config)} parameters; ${(flops.forward / 1e6).toFixed(2)} MFLOP/token forward, ${(flops.train / 1e6).toFixed(2)} train; backend ${info.backend}`,
);
const REPEATS = 3;
for (const B of o.batches.split(",").map(Number)) {
  const T = config.seq_len;
  const ids = tf.randomUniformInt([B, T], 2, config.vocab_size, 1) as tf.Tensor2D;
  const mask = tf.cast(tf.less(tf.randomUniform([B, T], 0, 1, "float32", 2), 0.3), "float32");
  const fwd: number[] = [];
  const step: number[] = [];
  for (let r = 0; r <= REPEATS; r++) {
    let t0 = performance.now();
    const out = model.forward(ids);
    await out.data();
    out.dispose();
    if (r > 0) fwd.push(performance.now() - t0); // the first round warms up
    t0 = performance.now();
    trainStep(() => maskedLmLoss(model.forward(ids, { training: true }), ids, mask), { optimizer, learningRate: 1e-4 });
    if (r > 0) step.push(performance.now() - t0);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const f = median(fwd),
    s = median(step);
  const tokens = B * T;
  console.log(
    `batch ${B}: forward ${f.toFixed(0)} ms (${((tokens / f) * 1000).toFixed(0)} tok/s, ${((tokens * flops.forward) / f / 1e6).toFixed(2)} GFLOP/s); ` +
      `train step ${s.toFixed(0)} ms (${((tokens / s) * 1000).toFixed(0)} tok/s, ${((tokens * flops.train) / s / 1e6).toFixed(2)} GFLOP/s)`,
  );
  tf.dispose([ids, mask]);
}
