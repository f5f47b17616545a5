import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "./backend.ts";
import { AdamW, clipGradNorm, cosineLearningRate, isDecayed, maskedLmLoss, maskedTokenAccuracy, trainStep } from "./train.ts";
import { MaskedTransformer } from "./transformer.ts";
import { tinyConfig } from "./test/fixtures.ts";

await initBackend("wasm", { log: false });

const close = (a: number, b: number, tol = 1e-6) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

test("AdamW matches a hand computation on a 2-parameter problem (decay on the matrix only)", () => {
  // loss = 0.5·(w − 3)² + 0.5·(b + 1)², w decayed ("head.weight"), b not ("head.bias").
  const vars = new Map([
    ["head.weight", tf.variable(tf.scalar(1), true, "adamw_test_w")],
    ["head.bias", tf.variable(tf.scalar(2), true, "adamw_test_b")],
  ]);
  const opt = new AdamW(vars, { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.5 });
  const lr = 0.1;
  let w = 1,
    b = 2,
    mw = 0,
    vw = 0,
    mb = 0,
    vb = 0;
  for (let t = 1; t <= 3; t++) {
    const grads = new Map([
      ["head.weight", tf.scalar(w - 3)],
      ["head.bias", tf.scalar(b + 1)],
    ]);
    opt.apply(grads, lr);
    tf.dispose([...grads.values()]);
    // by hand
    const gw = w - 3,
      gb = b + 1;
    w -= lr * 0.5 * w;
    mw = 0.9 * mw + 0.1 * gw;
    vw = 0.99 * vw + 0.01 * gw * gw;
    w -= (lr * (mw / (1 - 0.9 ** t))) / (Math.sqrt(vw / (1 - 0.99 ** t)) + 1e-8);
    mb = 0.9 * mb + 0.1 * gb;
    vb = 0.99 * vb + 0.01 * gb * gb;
    b -= (lr * (mb / (1 - 0.9 ** t))) / (Math.sqrt(vb / (1 - 0.99 ** t)) + 1e-8);
    close(vars.get("head.weight")!.dataSync()[0]!, w, 1e-5);
    close(vars.get("head.bias")!.dataSync()[0]!, b, 1e-5);
  }
  assert.equal(opt.step, 3);
  opt.dispose();
  for (const v of vars.values()) v.dispose();
});

test("weight decay skips biases, LayerNorm and embeddings", () => {
  for (const name of [
    "blocks.0.attn.qkv.weight",
    "blocks.3.attn.out.weight",
    "blocks.1.mlp.fc.weight",
    "blocks.1.mlp.proj.weight",
    "head.weight",
    "score.weight",
  ])
    assert.ok(isDecayed(name), name);
  for (const name of ["tok_emb.weight", "pos_emb.weight", "blocks.0.ln1.weight", "blocks.0.ln2.bias", "ln_f.weight", "blocks.0.attn.qkv.bias", "head.bias"])
    assert.ok(!isDecayed(name), name);
});

test("AdamW state exports and imports (also as safetensors) so training continues identically", () => {
  const make = (id: string) => new Map([["head.weight", tf.variable(tf.tensor1d([1, -2]), true, `adamw_state_${id}`)]]);
  const va = make("a"),
    vb = make("b");
  const a = new AdamW(va, { weightDecay: 0.1 });
  const b = new AdamW(vb, { weightDecay: 0.1 });
  const grad = () => new Map([["head.weight", tf.tensor1d([0.5, -0.25])]]);
  for (let i = 0; i < 2; i++) {
    const g = grad();
    a.apply(g, 0.01);
    tf.dispose([...g.values()]);
  }
  vb.get("head.weight")!.assign(va.get("head.weight")!);
  b.loadSafeTensors(a.toSafeTensors());
  assert.equal(b.step, 2);
  for (const opt of [a, b]) {
    const g = grad();
    opt.apply(g, 0.01);
    tf.dispose([...g.values()]);
  }
  assert.deepEqual(vb.get("head.weight")!.dataSync(), va.get("head.weight")!.dataSync());
  const state = a.exportState();
  state.tensors.delete("v.head.weight");
  assert.throws(() => b.importState(state), /missing "v\.head\.weight"/);
  a.dispose();
  b.dispose();
  for (const v of [...va.values(), ...vb.values()]) v.dispose();
});

test("cosine schedule: linear warm-up, cosine to the floor, then flat", () => {
  const s = { lr: 1, warmupSteps: 10, maxSteps: 110, minLrRatio: 0.1 };
  close(cosineLearningRate(0, s), 0.1);
  close(cosineLearningRate(4, s), 0.5);
  close(cosineLearningRate(9, s), 1);
  close(cosineLearningRate(10, s), 1);
  close(cosineLearningRate(60, s), 0.55); // halfway: 0.1 + 0.5·(1 + cos(π/2))·0.9
  close(cosineLearningRate(110, s), 0.1);
  close(cosineLearningRate(500, s), 0.1);
  close(cosineLearningRate(0, { ...s, warmupSteps: 0 }), 1);
});

test("global-norm clipping scales to maxNorm and returns the norm before clipping", () => {
  const grads = new Map([
    ["a", tf.tensor1d([3, 0])],
    ["b", tf.tensor1d([0, 4])],
  ]);
  const { grads: clipped, norm } = clipGradNorm(grads, 1);
  close(norm, 5);
  const a = clipped.get("a")!.dataSync(),
    b = clipped.get("b")!.dataSync();
  close(Math.hypot(a[0]!, b[1]!), 1, 1e-5);
  const untouched = clipGradNorm(clipped, 10);
  assert.equal(untouched.grads, clipped);
  tf.dispose([...clipped.values()]);
});

test("masked-LM loss and accuracy count masked positions only", () => {
  // B=1, T=3, V=2: position 1 is not masked and would dominate the loss if counted.
  const logits = tf.tensor3d([
    [
      [0, 1],
      [100, -100],
      [2, 0],
    ],
  ]);
  const targets = tf.tensor2d([[0, 1, 1]], [1, 3], "int32");
  const mask = tf.tensor2d([[1, 0, 1]]);
  const loss = maskedLmLoss(logits, targets, mask);
  const want = (Math.log(1 + Math.exp(1)) + Math.log(1 + Math.exp(2))) / 2;
  close(loss.dataSync()[0]!, want, 1e-5);
  assert.deepEqual(maskedTokenAccuracy(logits, targets, mask), { correct: 0, total: 2 });
  tf.dispose([logits, targets, mask, loss]);
});

function lmBatch(seed: number) {
  const ids = tf.tidy(() => tf.randomUniformInt([4, 12], 2, 10, seed) as tf.Tensor2D);
  const mask = tf.tidy(() => tf.cast(tf.less(tf.randomUniform([4, 12], 0, 1, "float32", seed + 1), 0.4), "float32") as tf.Tensor2D);
  const inputs = tf.tidy(() => tf.cast(tf.add(tf.mul(ids, tf.sub(1, mask)), mask), "int32") as tf.Tensor2D); // masked → id 1
  return { ids, mask, inputs };
}

test("gradient accumulation over micro-batches equals one full batch", () => {
  const config = tinyConfig();
  const full = new MaskedTransformer(config, { seed: 1 });
  const acc = new MaskedTransformer(config, { seed: 1 });
  const { ids, mask, inputs } = lmBatch(3);
  const counts = [0, 1].map((h) => tf.tidy(() => tf.sum(tf.slice(mask, [2 * h, 0], [2, 12])).dataSync()[0]!));
  const total = counts[0]! + counts[1]!;
  const optFull = new AdamW(full.variables);
  const optAcc = new AdamW(acc.variables);
  const rFull = trainStep(() => maskedLmLoss(full.forward(inputs), ids, mask), { optimizer: optFull, learningRate: 1e-2, maxGradNorm: 0.5 });
  const half = (h: number, t: tf.Tensor) => tf.slice(t, [2 * h, 0], [2, 12]);
  const rAcc = trainStep((i) => maskedLmLoss(acc.forward(half(i, inputs) as tf.Tensor2D), half(i, ids), half(i, mask)), {
    optimizer: optAcc,
    learningRate: 1e-2,
    maxGradNorm: 0.5,
    microBatches: 2,
    microBatchWeights: counts.map((c) => c / total),
  });
  close(rAcc.loss, rFull.loss, 1e-5);
  close(rAcc.gradNorm, rFull.gradNorm, 1e-4);
  const wf = full.getWeights(),
    wa = acc.getWeights();
  for (const [name, data] of wf) {
    const other = wa.get(name)!;
    for (let i = 0; i < data.length; i++) assert.ok(Math.abs(data[i]! - other[i]!) < 1e-5, `${name}[${i}]`);
  }
  tf.dispose([ids, mask, inputs]);
  optFull.dispose();
  optAcc.dispose();
  full.dispose();
  acc.dispose();
});

test("trainStep lowers the loss on a fixed batch and leaks no tensors over repeated steps", () => {
  const model = new MaskedTransformer(tinyConfig(), { seed: 2 });
  const opt = new AdamW(model.variables, { weightDecay: 0.1 });
  const { ids, mask, inputs } = lmBatch(5);
  const step = () =>
    trainStep(() => maskedLmLoss(model.forward(inputs, { training: true }), ids, mask), { optimizer: opt, learningRate: 3e-3, microBatches: 2 });
  const first = step();
  const before = tf.memory().numTensors;
  let last = first;
  for (let i = 0; i < 30; i++) last = step();
  assert.equal(tf.memory().numTensors, before, "tensor count grew across train steps");
  assert.ok(last.loss < first.loss * 0.8, `loss ${first.loss} → ${last.loss}`);
  assert.ok(Number.isFinite(last.gradNorm) && last.gradNorm > 0);
  tf.dispose([ids, mask, inputs]);
  opt.dispose();
  model.dispose();
});

test("trainStep refuses a non-finite loss without updating", () => {
  const model = new MaskedTransformer(tinyConfig(), { seed: 2 });
  const opt = new AdamW(model.variables);
  const before = model.getWeights();
  assert.throws(
    () => trainStep(() => tf.div(tf.sum(model.variables.get("head.bias")!), 0) as tf.Scalar, { optimizer: opt, learningRate: 1 }),
    /non-finite loss/,
  );
  assert.equal(opt.step, 0);
  assert.deepEqual(model.getWeights().get("head.bias"), before.get("head.bias"));
  opt.dispose();
  model.dispose();
});
