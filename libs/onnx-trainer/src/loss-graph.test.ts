// The GRPO loss of @grpomesh/grpo/loss-graph on the Tape — the loss part of the training graph —
// against the plain-array oracle grpoLossArrays: every value for every estimator, reduction and
// PPO, and the gradient w.r.t. the logits against central finite differences of the oracle.
// (libs/grpo's loss-tf.test.ts checks the same definition on tfjs.)
import { test } from "node:test";
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import {
  LOSS_VALUE_KEYS,
  grpoLoss,
  grpoLossArrays,
  lossData,
  lossDataShapes,
  lossSpec,
  readLossParts,
  resolveLossInputs,
  sequenceLogProbs,
  type LossInputs,
  type LossOptions,
  type LossParts,
} from "@grpomesh/grpo";
import { Tape, type DType, type Value } from "@grpomesh/autodiff";
import { Rng } from "@grpomesh/rng";

const TAU = 0.8;
const [B, K, T, V] = [2, 3, 4, 5];

/** log-softmax(logits / τ) over the last axis, in float64. */
function logSoftmax(logits: ArrayLike<number>): Float64Array {
  const out = new Float64Array(logits.length);
  for (let o = 0; o < logits.length; o += V) {
    const row = Array.from({ length: V }, (_, v) => logits[o + v]! / TAU);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    row.forEach((x, v) => (out[o + v] = x - lse));
  }
  return out;
}

/** A random batch with unmasked positions holding garbage ids; PPO cases get old log-probs off by up to ±0.5. */
function randomCase(seed: number, ppo: boolean, reduction: "sum" | "mean"): { logits: Float64Array; inputs: LossInputs } {
  const rng = new Rng(seed);
  const logits = Float64Array.from({ length: B * T * V }, () => 2 * rng.normal());
  const mask = new Uint8Array([1, 0, 1, 1, 0, 1, 0, 1]);
  const completions = Int32Array.from({ length: B * K * T }, (_, s) => (mask[Math.floor(s / (K * T)) * T + (s % T)] ? rng.nextInt(V) : -1));
  const refLogProbs = Float32Array.from(logSoftmax(logits.map((x) => x + 0.7 * rng.normal())));
  const inputs: LossInputs = { batchSize: B, groupSize: K, seqLen: T, vocabSize: V, completions, mask, refLogProbs, advantages: logits.slice(0, B * K) };
  if (ppo) inputs.oldLogProbs = sequenceLogProbs(inputs, logSoftmax(logits), reduction).map((x: number) => x + rng.uniform(-0.5, 0.5));
  return { logits, inputs };
}

/** Builds and runs the loss graph: its values and d loss / d logits. */
async function onnxLoss(logits: Float64Array, inputs: LossInputs, options: LossOptions) {
  const o = resolveLossInputs(inputs, options);
  const spec = lossSpec(inputs, o);
  const d = lossData(inputs, o, spec);
  const t = new Tape();
  const feeds: Record<string, ort.Tensor> = {};
  const input = (name: string, data: Float32Array | BigInt64Array, shape: number[], dtype: DType = "float32") => {
    feeds[name] = new ort.Tensor(dtype as "float32", data, shape);
    return t.input(name, dtype, shape);
  };
  const x = input("logits", Float32Array.from(logits), [B, T, V]);
  const data = lossDataShapes(spec, B, T, K, V).map(([name, shape]) => {
    const ids = name === "completionIds";
    return [name, input(name, ids ? BigInt64Array.from(d.completionIds, (id) => BigInt(id)) : (d[name] as Float32Array), shape, ids ? "int64" : "float32")];
  });
  const scalars = { groupSize: K, sampleCount: o.sampleCount, klBeta: o.klBeta, clipLow: 1 - o.clipEps, clipHigh: 1 + o.clipEps };
  const parts = grpoLoss<Value>(t, t.logSoftmax(t.div(x, TAU)), { ...Object.fromEntries(data), ...scalars }, spec);
  for (const key of LOSS_VALUE_KEYS) if (parts[key]) t.output(parts[key], key);
  t.output(t.gradients(parts.loss, [x])[0]!, "grad");
  const session = await ort.InferenceSession.create(t.toModel());
  const out = await session.run(feeds);
  await session.release();
  const named = Object.fromEntries(LOSS_VALUE_KEYS.map((key) => [key, out[key] ?? null])) as unknown as LossParts<ort.Tensor>;
  return { values: readLossParts(named, (v) => (v.data as Float32Array)[0]!), grad: out.grad!.data as Float32Array };
}

const CONFIGS: Array<{ name: string; options: LossOptions; ppo?: boolean }> = [
  { name: "exact/sum", options: { klEstimator: "exact", tokenReduction: "sum", klBeta: 0.3 } },
  { name: "exact/mean", options: { klEstimator: "exact", tokenReduction: "mean", klBeta: 0.3 } },
  { name: "k1/sum", options: { klEstimator: "k1", tokenReduction: "sum", klBeta: 0.3 } },
  { name: "k3/mean", options: { klEstimator: "k3", tokenReduction: "mean", klBeta: 0.3 } },
  { name: "k3/sum, β = 0 (KL reported only)", options: { klEstimator: "k3", tokenReduction: "sum", klBeta: 0 } },
  { name: "exact/sum/ppo", options: { klEstimator: "exact", tokenReduction: "sum", klBeta: 0.1, clipEps: 0.2 }, ppo: true },
  { name: "k3/mean/ppo", options: { klEstimator: "k3", tokenReduction: "mean", klBeta: 0.1, clipEps: 0.2 }, ppo: true },
];

test("the loss graph's values and gradient equal the array oracle's (values) and its finite differences (gradient)", async () => {
  let clipped = 0;
  for (const [n, c] of CONFIGS.entries()) {
    const { logits, inputs } = randomCase(10 + n, c.ppo ?? false, c.options.tokenReduction!);
    const lossAt = (z: Float64Array) => grpoLossArrays(logSoftmax(z), inputs, c.options);
    const expected = lossAt(Float64Array.from(Float32Array.from(logits)));
    const { values, grad } = await onnxLoss(logits, inputs, c.options);
    for (const key of LOSS_VALUE_KEYS) {
      assert.ok(
        Math.abs(values[key] - expected[key]) <= 2e-5 * (1 + Math.abs(expected[key])),
        `${c.name} ${key}: graph ${values[key]} vs arrays ${expected[key]}`,
      );
    }
    clipped += values.clipFrac;
    const h = 1e-5;
    let maxAbs = 0;
    for (let p = 0; p < logits.length; p++) {
      const [up, down] = [Float64Array.from(logits), Float64Array.from(logits)];
      up[p]! += h;
      down[p]! -= h;
      const fd = (lossAt(up).loss - lossAt(down).loss) / (2 * h);
      maxAbs = Math.max(maxAbs, Math.abs(fd));
      assert.ok(Math.abs(grad[p]! - fd) <= 2e-4 + 2e-3 * Math.abs(fd), `${c.name} logit ${p}: graph ${grad[p]} vs finite difference ${fd}`);
    }
    assert.ok(maxAbs > 1e-3, `${c.name}: gradient is ~0 everywhere, the check would be vacuous`);
  }
  assert.ok(clipped > 0, "the PPO cases should clip some samples, or they test nothing");
});
