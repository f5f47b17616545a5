import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "./backend.ts";
import { expectedTensorShapes } from "./config.ts";
import { maskedLmLoss } from "./train.ts";
import { MaskedTransformer } from "./transformer.ts";
import { tfOps } from "./tf-ops.ts";
import { randomizeWeights, referenceForward, tinyConfig } from "./test/fixtures.ts";

await initBackend("wasm", { log: false });

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test("runs on the wasm backend", () => {
  assert.equal(tf.getBackend(), "wasm");
});

test("masked_lm forward gives logits [B, T, V]; sequence_scorer gives scores [B]", () => {
  const lm = new MaskedTransformer(tinyConfig(), { seed: 1 });
  const scorer = new MaskedTransformer(tinyConfig({ model_type: "sequence_scorer" }), { seed: 1 });
  const ids = tf.tensor2d(
    [
      [4, 5, 1, 3, 6, 7, 8, 9, 1, 2, 4, 5],
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 4, 4],
    ],
    [2, 12],
    "int32",
  );
  const logits = lm.forward(ids);
  const scores = scorer.forward(ids);
  assert.deepEqual(logits.shape, [2, 12, 10]);
  assert.deepEqual(scores.shape, [2]);
  // Shorter sequences than seq_len use the first positional embeddings.
  const short = lm.forward(tf.slice(ids, [0, 0], [2, 5]) as tf.Tensor2D);
  assert.deepEqual(short.shape, [2, 5, 10]);
  tf.dispose([ids, logits, scores, short]);
  lm.dispose();
  scorer.dispose();
});

test("forward matches a plain float64 implementation of docs/model-format.md (both heads)", () => {
  for (const modelType of ["masked_lm", "sequence_scorer"] as const) {
    const config = tinyConfig({ model_type: modelType });
    const model = new MaskedTransformer(config);
    const weights = randomizeWeights(expectedTensorShapes(config), 7);
    model.setWeights(weights);
    const seqs = [
      [4, 5, 1, 3, 6, 7, 8, 9, 1, 2, 4, 5],
      [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 9],
    ];
    const out = model.forwardIds(Int32Array.from(seqs.flat()), 2, 12);
    const got = out.dataSync();
    const per = got.length / 2;
    for (let b = 0; b < 2; b++) {
      const want = referenceForward(config, weights, seqs[b]!);
      const diff = maxAbsDiff(got.subarray(b * per, (b + 1) * per), want);
      assert.ok(diff < 2e-4, `${modelType} sequence ${b}: max |tfjs − reference| = ${diff}`);
    }
    out.dispose();
    model.dispose();
  }
});

test("forward matches the reference at seq_len 128 (wasm kernels switch paths with size)", () => {
  const config = tinyConfig({ seq_len: 128, d_model: 32, n_head: 4, d_ff: 64, n_layer: 1 });
  const model = new MaskedTransformer(config);
  const weights = randomizeWeights(expectedTensorShapes(config), 5);
  model.setWeights(weights);
  const seq = Array.from({ length: 128 }, (_, t) => (t * 7) % 10);
  const out = model.forwardIds(Int32Array.from(seq), 1, 128);
  const diff = maxAbsDiff(out.dataSync(), referenceForward(config, weights, seq));
  assert.ok(diff < 2e-4, `max |tfjs − reference| = ${diff}`);
  out.dispose();
  model.dispose();
});

test("gradients of the masked-LM loss match finite differences of the reference forward", () => {
  const config = tinyConfig();
  const model = new MaskedTransformer(config);
  const weights = randomizeWeights(expectedTensorShapes(config), 3);
  model.setWeights(weights);
  const seq = [4, 1, 6, 1, 7, 8, 9, 4, 1, 6, 7, 1];
  const targets = [4, 5, 6, 7, 7, 8, 9, 4, 5, 6, 7, 8];
  const V = config.vocab_size;
  const refLoss = (w: Map<string, Float32Array>) => {
    const logits = referenceForward(config, w, seq);
    let sum = 0,
      n = 0;
    for (let t = 0; t < seq.length; t++) {
      if (seq[t] !== 1) continue;
      const row = logits.subarray(t * V, (t + 1) * V);
      const max = Math.max(...row);
      sum -= row[targets[t]!]! - max - Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
      n++;
    }
    return sum / n;
  };
  const ids = tf.tensor2d([seq], [1, 12], "int32");
  const tg = tf.tensor2d([targets], [1, 12], "int32");
  const mask = tf.tensor2d([seq.map((x) => (x === 1 ? 1 : 0))]);
  const { value, grads } = tf.variableGrads(() => maskedLmLoss(model.forward(ids, { training: true }), tg, mask), [...model.variables.values()]);
  assert.ok(Math.abs(value.dataSync()[0]! - refLoss(weights)) < 1e-4);
  for (const name of [
    "tok_emb.weight",
    "pos_emb.weight",
    "blocks.0.attn.qkv.weight",
    "blocks.0.attn.qkv.bias",
    "blocks.1.attn.out.weight",
    "blocks.0.ln1.weight",
    "blocks.1.ln2.bias",
    "blocks.1.mlp.fc.weight",
    "blocks.0.mlp.proj.weight",
    "ln_f.weight",
    "head.weight",
    "head.bias",
  ]) {
    const g = grads[model.variables.get(name)!.name]!.dataSync();
    for (const idx of [0, 5, 17, 40, 101]) {
      if (idx >= g.length) continue;
      const plus = Float32Array.from(weights.get(name)!),
        minus = Float32Array.from(weights.get(name)!);
      plus[idx]! += 1e-3;
      minus[idx]! -= 1e-3;
      const numeric = (refLoss(new Map(weights).set(name, plus)) - refLoss(new Map(weights).set(name, minus))) / 2e-3;
      assert.ok(Math.abs(numeric - g[idx]!) < 1e-4 + 1e-3 * Math.abs(numeric), `${name}[${idx}]: numeric ${numeric}, tfjs ${g[idx]}`);
    }
  }
  tf.dispose([ids, tg, mask, value, ...Object.values(grads)]);
  model.dispose();
});

test("attention is bidirectional: changing token j changes the logits at i < j", () => {
  const model = new MaskedTransformer(tinyConfig(), { seed: 3 });
  const a = Int32Array.from([4, 5, 6, 1, 7, 8, 9, 4, 5, 6, 7, 8]);
  const b = Int32Array.from(a);
  b[10] = 3; // change a late position only
  const la = model.forwardIds(a, 1, 12);
  const lb = model.forwardIds(b, 1, 12);
  const V = 10;
  const early = (t: tf.Tensor) => t.dataSync().subarray(0, 3 * V); // positions 0..2
  assert.ok(maxAbsDiff(early(la), early(lb)) > 1e-6, "logits at positions before the change did not move");
  tf.dispose([la, lb]);
  model.dispose();
});

test("init is seeded and GPT-2 style", () => {
  const config = tinyConfig({ n_layer: 2, d_model: 64, d_ff: 256, n_head: 4 });
  const w1 = new MaskedTransformer(config, { seed: 5 });
  const w2 = new MaskedTransformer(config, { seed: 5 });
  const w3 = new MaskedTransformer(config, { seed: 6 });
  const a = w1.getWeights(),
    b = w2.getWeights(),
    c = w3.getWeights();
  assert.deepEqual(a.get("blocks.0.attn.qkv.weight"), b.get("blocks.0.attn.qkv.weight"));
  assert.notDeepEqual(a.get("blocks.0.attn.qkv.weight"), c.get("blocks.0.attn.qkv.weight"));
  const std = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
  assert.ok(Math.abs(std(a.get("blocks.1.mlp.fc.weight")!) - 0.02) < 0.002);
  assert.ok(Math.abs(std(a.get("blocks.1.mlp.proj.weight")!) - 0.02 / Math.sqrt(4)) < 0.001);
  assert.ok(Math.abs(std(a.get("blocks.0.attn.out.weight")!) - 0.01) < 0.001);
  assert.ok(a.get("blocks.0.ln1.weight")!.every((v) => v === 1));
  assert.ok(a.get("ln_f.bias")!.every((v) => v === 0));
  assert.ok(a.get("blocks.0.mlp.fc.bias")!.every((v) => v === 0));
  for (const m of [w1, w2, w3]) m.dispose();
});

test("getWeights/setWeights round-trip bit-exactly and refuse wrong names or sizes", () => {
  const config = tinyConfig();
  const src = new MaskedTransformer(config, { seed: 1 });
  const dst = new MaskedTransformer(config, { seed: 2 });
  dst.setWeights(src.getWeights());
  for (const [name, data] of src.getWeights()) assert.deepEqual(dst.getWeights().get(name), data, name);
  const bad = src.getWeights();
  bad.set("head.weight", new Float32Array(3));
  bad.delete("ln_f.bias");
  bad.set("extra.weight", new Float32Array(1));
  assert.throws(
    () => dst.setWeights(bad),
    (e: Error) => /missing "ln_f\.bias"/.test(e.message) && /"head\.weight" has 3 values/.test(e.message) && /unexpected "extra\.weight"/.test(e.message),
  );
  src.dispose();
  dst.dispose();
});

test("forward refuses float ids and over-long sequences", () => {
  const model = new MaskedTransformer(tinyConfig());
  const f = tf.zeros([1, 4]) as tf.Tensor2D;
  const long = tf.zeros([1, 13], "int32") as tf.Tensor2D;
  assert.throws(() => model.forward(f), /int32 ids/);
  assert.throws(() => model.forward(long), /seq_len is 12/);
  tf.dispose([f, long]);
  model.dispose();
});

test("the customGrad matMul gives the same gradients as tfjs's built-in matMul", () => {
  const x = tf.randomNormal([7, 5], 0, 1, "float32", 1) as tf.Tensor2D;
  const w = tf.randomNormal([5, 3], 0, 1, "float32", 2) as tf.Tensor2D;
  const dy = tf.randomNormal([7, 3], 0, 1, "float32", 3);
  const ours = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tfOps.matMul(a, b), dy)))([x, w]);
  const theirs = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D), dy)))([x, w]);
  for (let i = 0; i < 2; i++) assert.ok(maxAbsDiff(ours[i]!.dataSync(), theirs[i]!.dataSync()) < 1e-5);
  const a3 = tf.randomNormal([4, 6, 5], 0, 1, "float32", 4) as tf.Tensor3D;
  const b3 = tf.randomNormal([4, 5, 2], 0, 1, "float32", 5) as tf.Tensor3D;
  const dy3 = tf.randomNormal([4, 6, 2], 0, 1, "float32", 6);
  const ours3 = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tfOps.matMul(a, b), dy3)))([a3, b3]);
  const theirs3 = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D), dy3)))([a3, b3]);
  for (let i = 0; i < 2; i++) assert.ok(maxAbsDiff(ours3[i]!.dataSync(), theirs3[i]!.dataSync()) < 1e-5);
  tf.dispose([x, w, dy, a3, b3, dy3, ...ours, ...theirs, ...ours3, ...theirs3]);
});

test("a backward pass runs on wasm and reaches every parameter (dropout on)", () => {
  const model = new MaskedTransformer(tinyConfig({ dropout: 0.1 }), { seed: 9 });
  const ids = tf.tensor2d([[4, 1, 6, 1, 7, 8, 9, 4, 1, 6, 7, 8]], [1, 12], "int32");
  const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(model.forward(ids, { training: true }))) as tf.Scalar, [...model.variables.values()]);
  assert.ok(Number.isFinite(value.dataSync()[0]!));
  for (const [name, v] of model.variables) {
    const g = grads[v.name];
    assert.ok(g, `no gradient for ${name}`);
    assert.deepEqual(g.shape, v.shape, name);
    assert.ok(
      g.dataSync().some((x) => x !== 0),
      `gradient of ${name} is all zeros`,
    );
  }
  tf.dispose([ids, value, ...Object.values(grads)]);
  model.dispose();
});

test("two models live in one process (variable names do not collide)", () => {
  const a = new MaskedTransformer(tinyConfig());
  const b = new MaskedTransformer(tinyConfig());
  assert.notEqual(a.variables.get("head.weight")!.name, b.variables.get("head.weight")!.name);
  a.dispose();
  b.dispose();
});

test("forward frees its intermediates (inference)", () => {
  const model = new MaskedTransformer(tinyConfig(), { seed: 1 });
  const ids = tf.tensor2d([[4, 1, 6, 1, 7, 8, 9, 4, 1, 6, 7, 8]], [1, 12], "int32");
  const before = tf.memory().numTensors;
  for (let i = 0; i < 20; i++) model.forward(ids).dispose();
  assert.equal(tf.memory().numTensors, before);
  ids.dispose();
  model.dispose();
});
