// The ONNX trainer against the tfjs model it replaces, on the shipped default generator
// (models/generator: 4 layers, d_model 128, 4 heads, seq 128), B = 2 inputs, k = 4 completions.
//
// Tolerances (float32 engines with different summation orders):
//   logits:         max |onnx − tfjs| ≤ 1e-4
//   gradients:      per tensor, max |onnx − tfjs| ≤ 1e-4 · max|g_tfjs| + 1e-6
//   loss values:    |onnx − tfjs| ≤ 1e-5 · (1 + |tfjs|)
//   AdamW:          max |onnx − tfjs| ≤ 1e-6 · (max|p| + 1e-6) (same float32 ops in the same order)
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { AdamW, MaskedTransformer, initBackend, logSoftmaxWithTemperature, specialTokenIds } from "@grpomesh/model";
import { loadCheckpoint, type Weights } from "@grpomesh/model/format";
import { LOSS_VALUE_KEYS, grpoLossAndGrads, sequenceLogProbs, type LossInputs, type LossOptions, type LossValues } from "@grpomesh/grpo";
import { Rng } from "@grpomesh/rng";
import { OnnxTrainer } from "./trainer.ts";

await initBackend("wasm", { log: false });

const ckpt = loadCheckpoint(fileURLToPath(new URL("../../../models/generator", import.meta.url)));
const config = ckpt.config;
const TAU = 0.8;
const B = 2,
  K = 4,
  T = config.seq_len,
  V = config.vocab_size;
const banned = specialTokenIds(config);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** A masked batch with completions sampled from the model at τ and a reference that differs from it. */
function makeBatch(model: MaskedTransformer, seed: number, B = 2): { ids: Int32Array; inputs: LossInputs; logp: Float32Array } {
  const rng = new Rng(seed);
  const ids = Int32Array.from({ length: B * T }, () => 2 + rng.nextInt(V - 2));
  const mask = Uint8Array.from({ length: B * T }, () => (rng.next() < 0.2 ? 1 : 0));
  mask[0] = 1; // at least one masked position per input
  mask[T] = 1;
  for (let p = 0; p < B * T; p++) if (mask[p]) ids[p] = config.mask_token_id;
  const [logp, ref] = tf.tidy(() => {
    const logits = model.forwardIds(ids, B, T);
    const noise = tf.mul(tf.randomNormal(logits.shape, 0, 1, "float32", seed), 0.5);
    return [logSoftmaxWithTemperature(logits, TAU, banned), logSoftmaxWithTemperature(tf.add(logits, noise), TAU, banned)];
  });
  const logpData = logp!.dataSync() as Float32Array;
  const refLogProbs = ref!.dataSync() as Float32Array;
  tf.dispose([logp!, ref!]);
  const completions = new Int32Array(B * K * T);
  for (let i = 0; i < B; i++) {
    for (let t = 0; t < T; t++) {
      for (let j = 0; j < K; j++) {
        if (!mask[i * T + t]) {
          completions[(i * K + j) * T + t] = -1; // never read
          continue;
        }
        let u = rng.next(),
          v = 0;
        for (; v < V - 1; v++) if ((u -= Math.exp(logpData[(i * T + t) * V + v]!)) < 0) break;
        completions[(i * K + j) * T + t] = v;
      }
    }
  }
  const advantages = Float32Array.from({ length: B * K }, () => rng.normal());
  return { ids, logp: logpData, inputs: { batchSize: B, groupSize: K, seqLen: T, vocabSize: V, completions, mask, advantages, refLogProbs } };
}

function tfjsLossAndGrads(model: MaskedTransformer, ids: Int32Array, inputs: LossInputs, options: LossOptions): { values: LossValues; grads: Weights } {
  const idsT = tf.tensor2d(ids, [B, T], "int32");
  const names = new Map([...model.variables].map(([name, v]) => [v.name, name]));
  const { grads, values } = grpoLossAndGrads(() => logSoftmaxWithTemperature(model.forward(idsT), TAU, banned) as tf.Tensor3D, inputs, options, [
    ...model.variables.values(),
  ]);
  const out: Weights = new Map();
  for (const [tfName, g] of Object.entries(grads)) out.set(names.get(tfName)!, g.dataSync() as Float32Array);
  tf.dispose([idsT, ...Object.values(grads)]);
  return { values, grads: out };
}

function assertSameLoss(onnx: { values: LossValues; grads: Weights }, tfjs: { values: LossValues; grads: Weights }, label: string): void {
  for (const key of LOSS_VALUE_KEYS) {
    const a = onnx.values[key],
      e = tfjs.values[key];
    if (Number.isNaN(e)) assert.ok(Number.isNaN(a), `${label} ${key}: onnx ${a}, tfjs NaN`);
    else assert.ok(Math.abs(a - e) <= 1e-5 * (1 + Math.abs(e)), `${label} ${key}: onnx ${a} vs tfjs ${e}`);
  }
  assert.equal(onnx.grads.size, tfjs.grads.size);
  let worst = 0;
  for (const [name, expected] of tfjs.grads) {
    const actual = onnx.grads.get(name)!;
    const scale = maxAbs(expected);
    const diff = maxAbsDiff(actual, expected);
    worst = Math.max(worst, diff / scale);
    assert.ok(diff <= 1e-4 * scale + 1e-6, `${label} gradient of ${name}: max diff ${diff.toExponential(2)} vs max|g| ${scale.toExponential(2)}`);
  }
  if (process.env.ONNX_ENGINE_LOG) console.log(`${label}: worst per-tensor max|Δg| / max|g| = ${worst.toExponential(2)}`);
}

const model = new MaskedTransformer(config);
model.setWeights(ckpt.weights);
const trainer = await OnnxTrainer.create(config, ckpt.weights, { threads: 2 });
const batch = makeBatch(model, 11);

test("logits equal MaskedTransformer.forward within 1e-4 (full and shorter sequences)", async () => {
  for (const seqLen of [T, 40]) {
    const ids = Int32Array.from({ length: B * seqLen }, (_, i) => batch.ids[Math.floor(i / seqLen) * T + (i % seqLen)]!);
    const expected = model.forwardIds(ids, B, seqLen);
    const want = expected.dataSync() as Float32Array;
    expected.dispose();
    const got = await trainer.logits(ids, B, seqLen);
    assert.equal(got.length, B * seqLen * V);
    const diff = maxAbsDiff(got, want);
    if (process.env.ONNX_ENGINE_LOG) console.log(`logits T=${seqLen}: max diff ${diff.toExponential(2)}`);
    assert.ok(diff <= 1e-4, `seqLen ${seqLen}: max |logits diff| ${diff}`);
  }
});

test('forwardWeights "initializers" gives the same logits and follows weight changes', async () => {
  const baked = await OnnxTrainer.create(config, ckpt.weights, { threads: 1, forwardWeights: "initializers" });
  const plain = await OnnxTrainer.create(config, ckpt.weights, { threads: 1 });
  const ids = batch.ids.subarray(0, T);
  assert.ok(maxAbsDiff(await baked.logits(ids, 1, T), await plain.logits(ids, 1, T)) <= 1e-5);
  const changed = new Map([...ckpt.weights].map(([n, w]) => [n, n === "head.bias" ? Float32Array.from(w, (x, i) => x + i * 0.01) : w]));
  baked.setWeights(changed);
  plain.setWeights(changed);
  const after = await baked.logits(ids, 1, T);
  assert.ok(maxAbsDiff(after, await plain.logits(ids, 1, T)) <= 1e-5);
  assert.ok(
    Math.abs(after[V - 1]! - after[0]! - ((await trainer.logits(ids, 1, T))[V - 1]! - (await trainer.logits(ids, 1, T))[0]!) - (V - 1) * 0.01) < 1e-4,
    "the new head bias is used",
  );
  await baked.release();
  await plain.release();
});

const SETTINGS: Array<{ name: string; options: LossOptions; ppo?: boolean; noRef?: boolean }> = [
  { name: "exact KL, sum", options: { klEstimator: "exact", tokenReduction: "sum", klBeta: 0.1 } },
  { name: "k3 KL, mean", options: { klEstimator: "k3", tokenReduction: "mean", klBeta: 0.3 } },
  { name: "PPO-clipped, exact KL, sum", options: { klEstimator: "exact", tokenReduction: "sum", klBeta: 0.1, clipEps: 0.2 }, ppo: true },
  { name: "k1 KL, PPO, mean, sampleCount 16", options: { klEstimator: "k1", tokenReduction: "mean", klBeta: 0.05, clipEps: 0.1, sampleCount: 16 }, ppo: true },
  { name: "no reference, β = 0", options: { klBeta: 0 }, noRef: true },
];

for (const s of SETTINGS) {
  test(`loss values and every gradient equal tfjs: ${s.name}`, async () => {
    let inputs: LossInputs = s.noRef ? { ...batch.inputs, refLogProbs: undefined } : batch.inputs;
    if (s.ppo) {
      const rng = new Rng(5);
      const reduction = s.options.tokenReduction ?? "sum";
      const current = sequenceLogProbs(inputs, batch.logp, reduction);
      const spread = reduction === "sum" ? 0.5 : 0.2;
      inputs = { ...inputs, oldLogProbs: Float32Array.from(current, (x) => x + rng.uniform(-spread, spread)) };
    }
    const expected = tfjsLossAndGrads(model, batch.ids, inputs, s.options);
    const actual = await trainer.lossAndGrads(batch.ids, inputs, s.options, TAU, banned);
    if (s.ppo)
      assert.ok(expected.values.clipFrac > 0 && expected.values.clipFrac < 1, `the PPO case should clip some samples; clipFrac ${expected.values.clipFrac}`);
    assertSameLoss(actual, expected, s.name);
  });
}

test("a batch split into runs (the last one padded) gives the logits, values and gradients of one run", async () => {
  const big = makeBatch(model, 21, 3);
  const rng = new Rng(8);
  const current = sequenceLogProbs(big.inputs, big.logp, "sum");
  const inputs = { ...big.inputs, oldLogProbs: Float32Array.from(current, (x) => x + rng.uniform(-0.5, 0.5)) };
  const split = await OnnxTrainer.create(config, ckpt.weights, { threads: 1, tokensPerRun: { forward: 2 * T, train: 2 * T } }); // runs of 2 inputs: 2 + (1 + padding)
  const wholeLogits = await trainer.logits(big.ids, 3, T);
  const splitLogits = await split.logits(big.ids, 3, T);
  assert.equal(splitLogits.length, 3 * T * V);
  assert.ok(maxAbsDiff(splitLogits, wholeLogits) <= 1e-5, "logits of split runs");
  for (const options of [{ klEstimator: "exact" as const }, { klEstimator: "k3" as const, tokenReduction: "mean" as const }]) {
    const ppoInputs = options.klEstimator === "exact" ? inputs : big.inputs;
    const whole = await trainer.lossAndGrads(big.ids, ppoInputs, options, TAU, banned);
    const parts = await split.lossAndGrads(big.ids, ppoInputs, options, TAU, banned);
    for (const key of LOSS_VALUE_KEYS)
      assert.ok(
        Math.abs(parts.values[key] - whole.values[key]) <= 1e-5 * (1 + Math.abs(whole.values[key])),
        `${key}: ${parts.values[key]} vs ${whole.values[key]}`,
      );
    for (const [name, g] of whole.grads) {
      const diff = maxAbsDiff(parts.grads.get(name)!, g);
      assert.ok(diff <= 1e-5 * maxAbs(g) + 1e-7, `${options.klEstimator} gradient of ${name}: ${diff}`);
    }
  }
  await split.release();
});

test("the Gather embedding gives the OneHot embedding's logits and gradients", async () => {
  const gather = await OnnxTrainer.create(config, ckpt.weights, { threads: 1, embedding: "gather" });
  assert.ok(maxAbsDiff(await gather.logits(batch.ids, B, T), await trainer.logits(batch.ids, B, T)) <= 1e-5);
  const a = await gather.lossAndGrads(batch.ids, batch.inputs, {}, TAU, banned);
  const b = await trainer.lossAndGrads(batch.ids, batch.inputs, {}, TAU, banned);
  assert.ok(Math.abs(a.values.loss - b.values.loss) <= 1e-5 * (1 + Math.abs(b.values.loss)));
  for (const [name, g] of b.grads) assert.ok(maxAbsDiff(a.grads.get(name)!, g) <= 1e-5 * maxAbs(g) + 1e-7, name);
  await gather.release();
});

test("AdamW graph equals libs/model's AdamW over three steps (weight decay, gradient scale)", async () => {
  const ref = new MaskedTransformer(config);
  ref.setWeights(ckpt.weights);
  const opt = new AdamW(ref.variables, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
  const onnx = await OnnxTrainer.create(config, ckpt.weights, { threads: 1 });
  const rng = new Rng(3);
  for (let step = 0; step < 3; step++) {
    const grads = new Map([...ref.variables].map(([name, v]) => [name, Float32Array.from({ length: v.size }, () => rng.normal() * 1e-2)]));
    const scale = step === 1 ? 0.37 : 1;
    const lr = 1e-3 * (step + 1);
    const tfGrads = new Map([...grads].map(([name, g]) => [name, tf.mul(tf.tensor(g, ref.variables.get(name)!.shape), scale)]));
    opt.apply(tfGrads, lr);
    tf.dispose([...tfGrads.values()]);
    await onnx.applyAdamW(grads, { lr, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradScale: scale });
  }
  const want = ref.getWeights();
  const got = onnx.getWeights();
  for (const [name, w] of want) {
    const diff = maxAbsDiff(got.get(name)!, w);
    if (process.env.ONNX_ENGINE_LOG && diff > 0) console.log(`AdamW ${name}: max diff ${diff.toExponential(2)}`);
    assert.ok(diff <= 1e-6 * (maxAbs(w) + 1e-6), `${name}: max diff ${diff} after 3 AdamW steps`);
    assert.ok(maxAbsDiff(got.get(name)!, ckpt.weights.get(name)!) > 0, `${name} did not move`);
  }
  const tfState = opt.exportState();
  const state = onnx.exportOptimizerState()!;
  assert.equal(state.step, 3);
  for (const [key, data] of tfState.tensors) assert.ok(maxAbsDiff(state.tensors.get(key)!, data) <= 1e-6 * (maxAbs(data) + 1e-12), `moment ${key}`);
  opt.dispose();
  ref.dispose();
  await onnx.release();
});

test("gradients from lossAndGrads feed applyAdamW; weights and optimizer state round-trip", async () => {
  const a = await OnnxTrainer.create(config, ckpt.weights, { threads: 1 });
  assert.equal(a.exportOptimizerState(), null);
  assert.equal(
    a.parameterCount(),
    [...ckpt.weights.values()].reduce((n, w) => n + w.length, 0),
  );
  const adam = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
  const { grads } = await a.lossAndGrads(batch.ids, batch.inputs, {}, TAU, banned);
  await a.applyAdamW(grads, adam);
  // A second trainer restored from the first's weights and state takes the same next step.
  const b = await OnnxTrainer.create(config, ckpt.weights, { threads: 1 });
  b.setWeights(a.getWeights());
  b.importOptimizerState(a.exportOptimizerState());
  const g2 = (await a.lossAndGrads(batch.ids, batch.inputs, {}, TAU, banned)).grads;
  const copied = new Map([...g2].map(([n, g]) => [n, g.slice()])); // not views of one buffer: the packing path
  await a.applyAdamW(g2, adam);
  await b.applyAdamW(copied, adam);
  for (const [name, w] of a.getWeights()) assert.deepEqual(b.getWeights().get(name), w, `${name} after the restored step`);
  assert.deepEqual(b.exportOptimizerState()!.tensors, a.exportOptimizerState()!.tensors);
  // getWeights hands out copies
  const copy = a.getWeights();
  copy.get("head.bias")!.fill(123);
  assert.notEqual(a.getWeights().get("head.bias")![0], 123);
  a.importOptimizerState(null);
  assert.equal(a.exportOptimizerState(), null);
  await a.release();
  await b.release();
  await assert.rejects(a.logits(batch.ids, B, T), /was released/);
});

test("wrong shapes and inputs are refused with what was expected", async () => {
  const bad = new Map(ckpt.weights);
  bad.set("head.bias", new Float32Array(3));
  await assert.rejects(OnnxTrainer.create(config, bad), /head\.bias/);
  assert.throws(() => trainer.setWeights(bad), /head\.bias/);
  await assert.rejects(trainer.logits(new Int32Array(5), B, T), /5 ids do not make 2 sequences of 128/);
  await assert.rejects(trainer.logits(new Int32Array(B * 200), B, 200), /longer than this model's seq_len 128/);
  await assert.rejects(trainer.logits(new Int32Array(B * T).fill(V), B, T), /outside the vocabulary/);
  await assert.rejects(trainer.lossAndGrads(batch.ids, batch.inputs, {}, 0, banned), /temperature/);
  await assert.rejects(trainer.lossAndGrads(batch.ids, batch.inputs, {}, TAU, [V]), /banned token id 75/);
  await assert.rejects(
    trainer.applyAdamW(new Map([["head.bias", new Float32Array(V)]]), { lr: 1, beta1: 0.9, beta2: 0.9, eps: 1e-8, weightDecay: 0 }),
    /missing "tok_emb\.weight"/,
  );
  const state = { step: 1, tensors: new Map([["m.head.bias", new Float32Array(2)]]) };
  assert.throws(() => trainer.importOptimizerState(state), /optimizer state does not match/);
  await assert.rejects(OnnxTrainer.create({ ...config, model_type: "sequence_scorer" }, ckpt.weights), /masked_lm/);
});

test("after all tests: release", async () => {
  model.dispose();
  await trainer.release();
});
