// Times the ONNX trainer: forward (weights as inputs, and baked in as initializers), and the
// training step (lossAndGrads + applyAdamW), in GFLOP/s by flopsPerToken (train = 3× forward).
//   node --import tsx libs/onnx-trainer/scripts/bench.ts [reference|default] [--runs=N] [--threads=N] … (--help: every setting)
import { parseCommandLine, setting, z } from "@grpomesh/config";
import { defaultGeneratorConfig, expectedTensorShapes, flopsPerToken, specialTokenIds, type ModelConfig } from "@grpomesh/model/format";
import { Rng } from "@grpomesh/rng";
import { OnnxTrainer } from "../src/index.ts";

const tokens = (what: string) => setting(z.int().min(0), 0, `tokens per ${what} session run (OnnxTrainer's tokensPerRun); 0: the trainer's default`);
const { config: o, positional } = parseCommandLine(
  {
    runs: setting(z.int().min(1), 3, "timed runs of each measurement, after a first call that builds the session"),
    threads: setting(z.int().min(0), 0, "onnxruntime intra-op threads; 0: onnxruntime's default"),
    embedding: setting(z.enum(["gather", "onehot"]), "onehot", "how the graphs look up token embeddings"),
    batch: setting(z.int().min(0), 0, "windows per batch; 0: 64 for reference, 16 for default"),
    k: setting(z.int().min(1), 8, "completions per window in the training step"),
    skip_forward: setting(z.boolean(), false, "leave out the forward timings"),
    skip_train: setting(z.boolean(), false, "leave out the training-step timings"),
    mem_pattern: setting(z.boolean(), false, "turn on onnxruntime's memory-pattern optimisation"),
    forward_tokens: tokens("forward"),
    train_tokens: tokens("training"),
  },
  "node --import tsx libs/onnx-trainer/scripts/bench.ts [reference|default]",
  { maxPositional: 1 },
);
const size = positional[0] ?? "reference";
const vocab = ["[PAD]", "[MASK]", ...Array.from({ length: 73 }, (_, i) => String.fromCharCode(33 + i))];
const config: ModelConfig =
  size === "reference" ? defaultGeneratorConfig(vocab, { n_layer: 6, d_model: 256, n_head: 8, d_ff: 1024, seq_len: 256 }) : defaultGeneratorConfig(vocab);
const B = o.batch || (size === "reference" ? 64 : 16);
const T = config.seq_len;
const { k, runs, embedding } = o;
const threads = o.threads || undefined;

const rng = new Rng(1);
const weights = new Map<string, Float32Array>();
for (const [name, shape] of expectedTensorShapes(config)) {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  if (/ln(1|2|_f)\.weight$/.test(name)) data.fill(1);
  else if (name.endsWith(".weight")) for (let i = 0; i < data.length; i++) data[i] = rng.normal() * 0.02;
  weights.set(name, data);
}
const V = config.vocab_size;
const ids = Int32Array.from({ length: B * T }, () => 2 + rng.nextInt(V - 2));
const mask = Uint8Array.from({ length: B * T }, () => (rng.next() < 0.15 ? 1 : 0));
for (let p = 0; p < B * T; p++) if (mask[p]) ids[p] = config.mask_token_id;
const completions = Int32Array.from({ length: B * k * T }, () => 2 + rng.nextInt(V - 2));
const advantages = Float32Array.from({ length: B * k }, () => rng.normal());
const refLogProbs = new Float32Array(B * T * V).fill(Math.log(1 / V));
const flops = flopsPerToken(config, T);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
// Median, and the best run (less disturbed by other processes on a shared machine).
const line = (what: string, seconds: number[], flop: number) =>
  console.log(
    `${what.padEnd(34)} median ${median(seconds).toFixed(3)} s ${(flop / median(seconds) / 1e9).toFixed(1).padStart(6)} GFLOP/s; ` +
      `best ${Math.min(...seconds).toFixed(3)} s ${(flop / Math.min(...seconds) / 1e9).toFixed(1).padStart(6)} GFLOP/s  (${seconds.map((s) => s.toFixed(3)).join(", ")})`,
  );

console.log(
  `${size}: ${config.n_layer} layers, d_model ${config.d_model}, ${config.n_head} heads, d_ff ${config.d_ff}, T ${T}, B ${B}, k ${k}, V ${V}, threads ${threads ?? "default"}, embedding ${embedding}`,
);
const tokensPerRun = { forward: o.forward_tokens || undefined, train: o.train_tokens || undefined };
const trainer = await OnnxTrainer.create(config, weights, { threads, embedding, memoryPattern: o.mem_pattern, tokensPerRun });
console.log(
  `parameters ${trainer.parameterCount()}; forward ${((flops.forward * B * T) / 1e9).toFixed(1)} GFLOP, train ${((flops.train * B * T) / 1e9).toFixed(1)} GFLOP`,
);

if (!o.skip_forward) {
  let t0 = performance.now();
  await trainer.logits(ids, B, T);
  console.log(`forward (inputs) first call incl. session ${((performance.now() - t0) / 1000).toFixed(3)} s`);
  const fwd: number[] = [];
  for (let r = 0; r < runs; r++) {
    t0 = performance.now();
    await trainer.logits(ids, B, T);
    fwd.push((performance.now() - t0) / 1000);
  }
  line("forward, weights as inputs", fwd, flops.forward * B * T);

  const baked = await OnnxTrainer.create(config, weights, { threads, embedding, tokensPerRun, forwardWeights: "initializers" });
  t0 = performance.now();
  await baked.logits(ids, B, T);
  console.log(`forward (initializers) first call incl. graph + session ${((performance.now() - t0) / 1000).toFixed(3)} s`);
  const init: number[] = [];
  for (let r = 0; r < runs; r++) {
    t0 = performance.now();
    await baked.logits(ids, B, T);
    init.push((performance.now() - t0) / 1000);
  }
  line("forward, weights as initializers", init, flops.forward * B * T);
  await baked.release();
}

if (!o.skip_train) {
  const inputs = { batchSize: B, groupSize: k, seqLen: T, vocabSize: V, completions, mask, advantages, refLogProbs };
  const banned = specialTokenIds(config);
  const opts = { lr: 1e-5, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
  let t0 = performance.now();
  const first = await trainer.lossAndGrads(ids, inputs, {}, 0.8, banned);
  console.log(`lossAndGrads first call incl. graph + session ${((performance.now() - t0) / 1000).toFixed(3)} s; loss ${first.values.loss.toFixed(4)}`);
  await trainer.applyAdamW(first.grads, opts);
  const grad: number[] = [],
    adam: number[] = [],
    step: number[] = [];
  for (let r = 0; r < runs; r++) {
    t0 = performance.now();
    const { grads } = await trainer.lossAndGrads(ids, inputs, {}, 0.8, banned);
    const t1 = performance.now();
    await trainer.applyAdamW(grads, opts);
    const t2 = performance.now();
    grad.push((t1 - t0) / 1000);
    adam.push((t2 - t1) / 1000);
    step.push((t2 - t0) / 1000);
  }
  line("lossAndGrads", grad, flops.train * B * T);
  console.log(`applyAdamW                         median ${median(adam).toFixed(3)} s`);
  line("training step (loss+grads+AdamW)", step, flops.train * B * T);
}
await trainer.release();
