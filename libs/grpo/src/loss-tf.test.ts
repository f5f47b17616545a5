import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { Rng } from "@grpomesh/rng";
import type { LossInputs, LossOptions, LossValues } from "./index.ts";
import { LOSS_VALUE_KEYS, grpoLossAndGrads, grpoLossArrays, grpoLossTensors, readLossParts, sequenceLogProbs } from "./index.ts";
import type { LossParts } from "./index.ts";
import { ln, logSoftmax, ppoCase } from "./test/fixtures.ts";

// wasm is the CPU default in production; cpu (pure JS) is tfjs's reference backend.
const BACKENDS = ["cpu", "wasm"] as const;
const TAU = 0.8;
const B = 2,
  K = 3,
  T = 4,
  V = 5;

/** A random batch with unmasked positions holding garbage ids, and its logits. */
function randomCase(seed: number): { logits: Float64Array; inputs: LossInputs } {
  const rng = new Rng(seed);
  const logits = Float64Array.from({ length: B * T * V }, () => 2 * rng.normal());
  const refLogits = Float64Array.from(logits, (x) => x + 0.7 * rng.normal());
  const mask = new Uint8Array([1, 0, 1, 1, 0, 1, 0, 1]);
  const completions = new Int32Array(B * K * T);
  for (let i = 0; i < B; i++) {
    for (let j = 0; j < K; j++) {
      for (let t = 0; t < T; t++) completions[(i * K + j) * T + t] = mask[i * T + t] ? rng.nextInt(V) : [-1, 99][rng.nextInt(2)]!;
    }
  }
  const refLogProbs = Float32Array.from(logSoftmax(refLogits, V, TAU));
  const advantages = Float32Array.from({ length: B * K }, () => rng.normal());
  return { logits, inputs: { batchSize: B, groupSize: K, seqLen: T, vocabSize: V, completions, mask, refLogProbs, advantages } };
}

/** Old log-probs off the current ones by up to ±0.5, so some ratios fall outside [0.8, 1.2]. */
function withOldLogProbs(inputs: LossInputs, logp: ArrayLike<number>, reduction: "sum" | "mean", seed: number): LossInputs {
  const rng = new Rng(seed);
  const current = sequenceLogProbs(inputs, logp, reduction);
  return { ...inputs, oldLogProbs: Float32Array.from(current, (x) => x + rng.uniform(-0.5, 0.5)) };
}

const CONFIGS: Array<{ name: string; options: LossOptions; ppo?: boolean }> = [
  { name: "exact/sum", options: { klEstimator: "exact", tokenReduction: "sum", klBeta: 0.3 } },
  { name: "exact/mean", options: { klEstimator: "exact", tokenReduction: "mean", klBeta: 0.3 } },
  { name: "k1/sum", options: { klEstimator: "k1", tokenReduction: "sum", klBeta: 0.3 } },
  { name: "k1/mean", options: { klEstimator: "k1", tokenReduction: "mean", klBeta: 0.3 } },
  { name: "k3/sum", options: { klEstimator: "k3", tokenReduction: "sum", klBeta: 0.3 } },
  { name: "k3/mean", options: { klEstimator: "k3", tokenReduction: "mean", klBeta: 0.3 } },
  { name: "exact/sum/ppo", options: { klEstimator: "exact", tokenReduction: "sum", klBeta: 0.1, clipEps: 0.2 }, ppo: true },
  { name: "k3/mean/ppo", options: { klEstimator: "k3", tokenReduction: "mean", klBeta: 0.1, clipEps: 0.2 }, ppo: true },
];

/** The values of grpoLossTensors's parts; disposes them. */
function readTensors(parts: LossParts<tf.Tensor>): LossValues {
  const values = readLossParts(parts, (t) => t.dataSync()[0]!);
  tf.dispose(Object.values(parts).filter((t) => t !== null));
  return values;
}

function assertClose(actual: LossValues, expected: LossValues, tol: number, label: string): void {
  for (const key of LOSS_VALUE_KEYS) {
    const a = actual[key],
      e = expected[key];
    assert.ok(Math.abs(a - e) <= tol * (1 + Math.abs(e)), `${label} ${key}: tfjs ${a} vs arrays ${e}`);
  }
}

for (const backend of BACKENDS) {
  test(`[${backend}] tfjs loss value equals the array loss for every estimator, reduction and PPO`, async () => {
    assert.ok(await tf.setBackend(backend));
    let clipped = 0;
    for (const [n, c] of CONFIGS.entries()) {
      const { logits, inputs: base } = randomCase(10 + n);
      const logp = Float32Array.from(logSoftmax(logits, V, TAU));
      const inputs = c.ppo ? withOldLogProbs(base, logp, c.options.tokenReduction!, 50 + n) : base;
      const expected = grpoLossArrays(logp, inputs, c.options);
      const logpTensor = tf.tensor3d(logp, [B, T, V]);
      const actual = readTensors(grpoLossTensors(logpTensor, inputs, c.options));
      logpTensor.dispose();
      assertClose(actual, expected, 2e-5, `${c.name}`);
      clipped += c.ppo ? actual.clipFrac : 0;
    }
    assert.ok(clipped > 0, "the PPO cases should clip some samples, or they test nothing");
  });

  test(`[${backend}] gradient w.r.t. logits matches central finite differences of the array loss`, async () => {
    assert.ok(await tf.setBackend(backend));
    const h = 1e-5;
    for (const [n, c] of CONFIGS.entries()) {
      const { logits, inputs: base } = randomCase(100 + n);
      const inputs = c.ppo ? withOldLogProbs(base, logSoftmax(logits, V, TAU), c.options.tokenReduction!, 150 + n) : base;
      const lossAt = (x: Float64Array) => grpoLossArrays(logSoftmax(x, V, TAU), inputs, c.options).loss;
      const fd = new Float64Array(logits.length);
      for (let p = 0; p < logits.length; p++) {
        const up = Float64Array.from(logits),
          down = Float64Array.from(logits);
        up[p]! += h;
        down[p]! -= h;
        fd[p] = (lossAt(up) - lossAt(down)) / (2 * h);
      }
      const weights = tf.variable(tf.tensor3d(Float32Array.from(logits), [B, T, V]));
      const { grads, values } = grpoLossAndGrads(() => tf.logSoftmax(tf.div(weights, TAU)) as tf.Tensor3D, inputs, c.options, [weights]);
      const g = grads[weights.name]!.dataSync();
      tf.dispose(grads);
      weights.dispose();
      let maxAbs = 0;
      for (let p = 0; p < fd.length; p++) {
        maxAbs = Math.max(maxAbs, Math.abs(fd[p]!));
        assert.ok(Math.abs(g[p]! - fd[p]!) <= 2e-4 + 2e-3 * Math.abs(fd[p]!), `${c.name} logit ${p}: tfjs ${g[p]} vs finite difference ${fd[p]}`);
      }
      assert.ok(maxAbs > 1e-3, `${c.name}: gradient is ~0 everywhere, the check would be vacuous`);
      assert.ok(Number.isFinite(values.loss));
    }
  });
}

test("PPO clipping gradients by hand: clipped samples contribute nothing", async () => {
  // the case of loss.test.ts: dL/dlog π_j = −A_j ρ_j / N where unclipped, 0 where clipped:
  //   m0 clipped → 0; m1: −(−1)(1.5)/4 = .375 (token 0); m2: −(1)(.5)/4 = −.125 (token 1); m3 clipped → 0
  //   ⇒ dL/dlogp = [.375, −.125]; value .15, clip fraction .5
  await tf.setBackend("cpu");
  const logp = tf.tensor3d([ln(0.5), ln(0.5)], [1, 1, 2]);
  const grad = tf.grad((x: tf.Tensor) => grpoLossTensors(x as tf.Tensor3D, ppoCase(), { klBeta: 0, clipEps: 0.2 }).loss)(logp);
  assert.deepEqual(
    Array.from(grad.dataSync()).map((x) => Math.round(x * 1e6) / 1e6),
    [0.375, -0.125],
  );
  const values = readTensors(grpoLossTensors(logp, ppoCase(), { klBeta: 0, clipEps: 0.2 }));
  assert.ok(Math.abs(values.pgLoss - 0.15) < 1e-6 && values.clipFrac === 0.5, JSON.stringify(values));
  tf.dispose([logp, grad]);
});

test("ppo_epochs = 1 (ratio 1): value and gradient equal the unclipped loss", async () => {
  await tf.setBackend("cpu");
  const { logits, inputs } = randomCase(7);
  const atStart = { ...inputs, oldLogProbs: Float32Array.from(sequenceLogProbs(inputs, Float32Array.from(logSoftmax(logits, V, TAU)))) };
  const run = (i: LossInputs) => {
    const w = tf.variable(tf.tensor3d(Float32Array.from(logits), [B, T, V]));
    const { grads, values } = grpoLossAndGrads(() => tf.logSoftmax(tf.div(w, TAU)) as tf.Tensor3D, i, { klBeta: 0.1 }, [w]);
    const g = Array.from(grads[w.name]!.dataSync());
    tf.dispose(grads);
    w.dispose();
    return { g, values };
  };
  const plain = run(inputs),
    ppo = run(atStart);
  assertClose(ppo.values, plain.values, 1e-5, "ratio 1");
  assert.equal(ppo.values.clipFrac, 0);
  for (let p = 0; p < plain.g.length; p++) assert.ok(Math.abs(ppo.g[p]! - plain.g[p]!) < 1e-5, `logit ${p}: ${ppo.g[p]} vs ${plain.g[p]}`);
});

for (const backend of BACKENDS) {
  test(`[${backend}] no tensors leak over repeated loss and gradient calls`, async () => {
    assert.ok(await tf.setBackend(backend));
    const { logits, inputs } = randomCase(3);
    const w = tf.variable(tf.tensor3d(Float32Array.from(logits), [B, T, V]));
    const ppoInputs = withOldLogProbs(inputs, logSoftmax(logits, V, TAU), "sum", 4);
    const once = () => {
      for (const [i, o] of [
        [inputs, { klEstimator: "exact" }],
        [ppoInputs, { klEstimator: "k3" }],
      ] as const) {
        const { grads } = grpoLossAndGrads(() => tf.logSoftmax(tf.div(w, TAU)) as tf.Tensor3D, i, o, [w]);
        tf.dispose(grads);
        const logp = tf.tidy(() => tf.logSoftmax(tf.div(w, TAU)) as tf.Tensor3D);
        readTensors(grpoLossTensors(logp, i, o));
        logp.dispose();
      }
    };
    once(); // warm-up: backends may allocate lazily on first use
    const before = tf.memory().numTensors;
    for (let r = 0; r < 5; r++) once();
    assert.equal(tf.memory().numTensors, before);
    w.dispose();
  });
}

test("tfjs loss refuses a logp tensor that does not match the batch", async () => {
  await tf.setBackend("cpu");
  const { inputs } = randomCase(1);
  const wrong = tf.zeros([B, T, V + 1]) as tf.Tensor3D;
  assert.throws(() => grpoLossTensors(wrong, inputs), /logp has shape \[2, 4, 6\]; expected \[B, T, V\] = \[2, 4, 5\]/);
  wrong.dispose();
  const before = tf.memory().numTensors;
  assert.throws(() => grpoLossAndGrads(() => tf.zeros([B, T, V]) as tf.Tensor3D, { ...inputs, refLogProbs: undefined }), /no refLogProbs/);
  assert.equal(tf.memory().numTensors, before);
});
