// The GRPO loss as a differentiable tfjs function of the policy's log-probs; same formula and
// options as grpoLossArrays (see loss.ts), which it is tested against.
//
// Completion tokens' log-probs are read with a one-hot multiply-and-sum, not tf.gather: gather's
// gradient (UnsortedSegmentSum) is not registered on tfjs-wasm. Everything that does not depend on
// θ (one-hot ids, mask weights, advantages, reference values) is built in JS as constants.

import * as tf from "@tensorflow/tfjs-core";
import type { LossInputs, LossOptions, LossValues, ResolvedLossOptions } from "./loss.ts";
import { LOSS_VALUE_KEYS, resolveLossInputs } from "./loss.ts";
import { tokenWeights } from "./batch.ts";
import { ensureTfGradients } from "./tf-gradients.ts";

export interface LossTensors {
  /** Scalar to differentiate. */
  loss: tf.Scalar;
  /** [6] = loss, pgLoss, klPenalty, meanKl, meanLogProb, clipFrac (LOSS_VALUE_KEYS order). */
  metrics: tf.Tensor1D;
}

/**
 * The loss from `logp` [B, T, V] (the policy's log-softmax at τ, a function of the weights).
 * Inside tf.variableGrads, tf.keep(metrics) to read them afterwards (the gradient tidy disposes
 * everything else), then readLossValues(metrics) — or use grpoLossAndGrads, which does both.
 */
export function grpoLossTensors(logp: tf.Tensor3D, inputs: LossInputs, options: LossOptions = {}): LossTensors {
  ensureTfGradients();
  return lossTensors(logp, inputs, resolveLossInputs(inputs, options));
}

function lossTensors(logp: tf.Tensor3D, inputs: LossInputs, o: ResolvedLossOptions): LossTensors {
  const { batchSize: B, groupSize: k, seqLen: T, vocabSize: V, mask, completions } = inputs;
  if (logp.rank !== 3 || logp.shape[0] !== B || logp.shape[1] !== T || logp.shape[2] !== V) {
    throw new Error(`logp has shape [${logp.shape.join(", ")}]; expected [B, T, V] = [${B}, ${T}, ${V}] to match the completions`);
  }
  if (logp.dtype !== "float32") throw new Error(`logp has dtype ${logp.dtype}; expected float32 log-probabilities`);

  const w = tokenWeights(inputs, o.tokenReduction);
  const ids = new Int32Array(B * k * T); // unmasked positions → id 0; their weight is 0 anyway
  const weightBT = new Float32Array(B * T);
  const maskBT = new Float32Array(B * T);
  for (let i = 0; i < B; i++) {
    for (let t = 0; t < T; t++) {
      if (!mask[i * T + t]) continue;
      weightBT[i * T + t] = w[i]!;
      maskBT[i * T + t] = 1;
      for (let j = 0; j < k; j++) ids[(i * k + j) * T + t] = completions[(i * k + j) * T + t]!;
    }
  }
  const ref = inputs.refLogProbs;
  const N = o.sampleCount;

  return tf.tidy(() => {
    // wasm's OneHot ignores a float32 dtype argument (writes int bit patterns): cast instead.
    const oneHot = tf.cast(tf.oneHot(tf.tensor3d(ids, [B, k, T], "int32"), V), "float32");
    const tokenLogp = tf.sum(tf.mul(tf.expandDims(logp, 1), oneHot), 3); // [B, k, T]
    const weight = tf.tensor3d(weightBT, [B, 1, T]);
    const logPi = tf.sum(tf.mul(tokenLogp, weight), 2); // [B, k]
    const adv = tf.tensor2d(Float32Array.from(inputs.advantages), [B, k]);

    let pgSum: tf.Scalar;
    let clipFrac: tf.Scalar;
    if (inputs.oldLogProbs) {
      const old = tf.tensor2d(Float32Array.from(inputs.oldLogProbs), [B, k]);
      const ratio = tf.exp(tf.sub(logPi, old));
      const unclippedTerm = tf.mul(ratio, adv);
      const clippedTerm = tf.mul(tf.clipByValue(ratio, 1 - o.clipEps, 1 + o.clipEps), adv);
      // unclipped first: on a tie tf.minimum sends the gradient to its first argument
      const surrogate = tf.minimum(unclippedTerm, clippedTerm);
      pgSum = tf.neg(tf.sum(tf.add(tf.sub(surrogate, adv), tf.mul(adv, old))));
      clipFrac = tf.div(tf.sum(tf.cast(tf.less(clippedTerm, unclippedTerm), "float32")), N);
    } else {
      pgSum = tf.neg(tf.sum(tf.mul(logPi, adv)));
      clipFrac = tf.scalar(0);
    }
    const pgLoss = tf.div(pgSum, N);

    let meanKl: tf.Scalar;
    if (!ref) {
      meanKl = tf.scalar(Number.NaN);
    } else if (o.klEstimator === "exact") {
      const refMasked = new Float32Array(B * T * V);
      for (let p = 0; p < B * T; p++) {
        if (maskBT[p]) for (let v = p * V; v < p * V + V; v++) refMasked[v] = ref[v]!;
      }
      const klTok = tf.sum(tf.mul(tf.exp(logp), tf.sub(logp, tf.tensor3d(refMasked, [B, T, V]))), 2); // [B, T]
      const klInput = tf.sum(tf.mul(klTok, tf.tensor2d(weightBT, [B, T])), 1); // [B], shared by the group
      meanKl = tf.div(tf.mul(tf.sum(klInput), k), N);
    } else {
      const refTok = new Float32Array(B * k * T);
      for (let i = 0; i < B; i++) {
        for (let t = 0; t < T; t++) {
          if (!mask[i * T + t]) continue;
          for (let j = 0; j < k; j++) refTok[(i * k + j) * T + t] = ref[(i * T + t) * V + ids[(i * k + j) * T + t]!]!;
        }
      }
      // masking the log-ratio (not only the sum) keeps exp() finite at unmasked positions
      const logRatio = tf.mul(tf.sub(tf.tensor3d(refTok, [B, k, T]), tokenLogp), tf.tensor3d(maskBT, [B, 1, T]));
      const perToken = o.klEstimator === "k1" ? tf.neg(logRatio) : tf.sub(tf.sub(tf.exp(logRatio), logRatio), 1);
      meanKl = tf.div(tf.sum(tf.mul(perToken, weight)), N);
    }
    const klPenalty: tf.Scalar = o.klBeta > 0 ? tf.mul(meanKl, o.klBeta) : tf.scalar(0);
    const loss: tf.Scalar = tf.add(pgLoss, klPenalty);
    const meanLogProb = tf.div(tf.sum(logPi), N);
    const metrics = tf.stack([loss, pgLoss, klPenalty, meanKl, meanLogProb, clipFrac]) as tf.Tensor1D;
    return { loss, metrics };
  });
}

/** Reads (and disposes) the metrics tensor of grpoLossTensors. */
export function readLossValues(metrics: tf.Tensor1D): LossValues {
  const d = metrics.dataSync();
  metrics.dispose();
  const out = {} as LossValues;
  LOSS_VALUE_KEYS.forEach((key, n) => (out[key] = d[n]!));
  return out;
}

/**
 * One gradient of the loss: `computeLogp` runs the policy forward (reading tf.Variables) and
 * returns log-softmax(logits/τ) [B, T, V]. Returns the gradients (the caller disposes them) and the
 * loss values; every other tensor is disposed. `varList` defaults to all trainable variables.
 */
export function grpoLossAndGrads(
  computeLogp: () => tf.Tensor3D,
  inputs: LossInputs,
  options: LossOptions = {},
  varList?: tf.Variable[],
): { grads: tf.NamedTensorMap; values: LossValues } {
  ensureTfGradients();
  const o = resolveLossInputs(inputs, options); // fail before the forward pass
  let metrics: tf.Tensor1D | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const out = lossTensors(computeLogp(), inputs, o);
    metrics = tf.keep(out.metrics);
    return out.loss;
  }, varList);
  value.dispose();
  return { grads, values: readLossValues(metrics!) };
}
