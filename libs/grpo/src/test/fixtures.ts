// A tiny hand-checkable batch shared by the KL and loss tests: B = 1, k = 2, T = 3, V = 3.
//   t = 0 (masked): p_θ = [.5, .25, .25], p_ref = [.25, .5, .25]
//   t = 1 (masked): p_θ = p_ref = [.2, .3, .5]
//   t = 2 (NOT masked): anything — NaN in the reference proves it is never read.
//   completions: member 0 = [0, 2, ·], member 1 = [1, 1, ·]
import type { FillIns } from "../batch.ts";

export const ln = Math.log;

export function tinyBatch(): FillIns & { logp: Float32Array; refLogp: Float32Array } {
  const logp = new Float32Array([ln(0.5), ln(0.25), ln(0.25), ln(0.2), ln(0.3), ln(0.5), ln(0.7), ln(0.2), ln(0.1)]);
  const refLogp = new Float32Array([ln(0.25), ln(0.5), ln(0.25), ln(0.2), ln(0.3), ln(0.5), Number.NaN, Number.NaN, Number.NaN]);
  return {
    batchSize: 1,
    groupSize: 2,
    seqLen: 3,
    vocabSize: 3,
    completions: new Int32Array([0, 2, 99, 1, 1, -5]), // ids at t = 2 are out of range on purpose
    mask: new Uint8Array([1, 1, 0]),
    logp,
    refLogp,
  };
}

/** log-softmax(logits / τ) over the last axis of [rows, V], in float64. */
export function logSoftmax(logits: ArrayLike<number>, V: number, tau = 1): Float64Array {
  const out = new Float64Array(logits.length);
  for (let o = 0; o < logits.length; o += V) {
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, logits[o + v]! / tau);
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits[o + v]! / tau - max);
    const lse = max + Math.log(sum);
    for (let v = 0; v < V; v++) out[o + v] = logits[o + v]! / tau - lse;
  }
  return out;
}

// The PPO clipping case worked by hand in loss.test.ts: B = 1, k = 4, T = 1, V = 2, p = [.5, .5].
export function ppoCase() {
  const rho = [1.5, 1.5, 0.5, 0.5];
  return {
    batchSize: 1,
    groupSize: 4,
    seqLen: 1,
    vocabSize: 2,
    completions: new Int32Array([0, 0, 1, 1]),
    mask: new Uint8Array([1]),
    advantages: [1, -1, 1, -1],
    oldLogProbs: rho.map((r) => ln(0.5) - ln(r)),
  };
}
