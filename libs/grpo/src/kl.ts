// KL(π_θ ‖ π_ref) per sample, on plain arrays (float64 arithmetic). Inputs are full log-prob
// distributions [B, T, V] at the sampling temperature, for the policy and the reference alike.

import type { FillIns, TokenReduction } from "./batch.ts";
import { checkFiniteAtMask, checkFillIns, checkLogProbs, tokenWeights } from "./batch.ts";

export type KlEstimator = "exact" | "k1" | "k3";
export const KL_ESTIMATORS: readonly KlEstimator[] = ["exact", "k1", "k3"];

function checkPair(f: FillIns, logp: ArrayLike<number>, refLogp: ArrayLike<number>): void {
  checkFillIns(f);
  checkLogProbs("logp", f, logp);
  checkLogProbs("refLogp", f, refLogp);
  checkFiniteAtMask("logp", f, logp);
  checkFiniteAtMask("refLogp", f, refLogp);
}

/**
 * Exact KL of input i: Σ_{t∈M_i} Σ_v p_θ(v)(log p_θ(v) − log p_ref(v)), [B]. All k members of a
 * group share it (one distribution per input), so it has no sampling variance. ≥ 0.
 * "mean" divides by |M_i|.
 */
export function exactKl(f: FillIns, logp: ArrayLike<number>, refLogp: ArrayLike<number>, reduction: TokenReduction = "sum"): Float64Array {
  checkPair(f, logp, refLogp);
  const { batchSize: B, seqLen: T, vocabSize: V } = f;
  const w = tokenWeights(f, reduction);
  const out = new Float64Array(B);
  for (let i = 0; i < B; i++) {
    let kl = 0;
    for (let t = 0; t < T; t++) {
      if (!f.mask[i * T + t]) continue;
      const o = (i * T + t) * V;
      for (let v = 0; v < V; v++) {
        const lp = logp[o + v]!;
        kl += Math.exp(lp) * (lp - refLogp[o + v]!);
      }
    }
    out[i] = kl * w[i]!;
  }
  return out;
}

/** Calls fn(sample index i·k+j, log p_θ(a_t), log p_ref(a_t)) for every masked token of every sample. */
function forEachSampledToken(f: FillIns, logp: ArrayLike<number>, refLogp: ArrayLike<number>, fn: (sample: number, lp: number, lref: number) => void): void {
  const { batchSize: B, groupSize: k, seqLen: T, vocabSize: V } = f;
  for (let i = 0; i < B; i++) {
    for (let j = 0; j < k; j++) {
      const s = i * k + j;
      for (let t = 0; t < T; t++) {
        if (!f.mask[i * T + t]) continue;
        const o = (i * T + t) * V + f.completions[s * T + t]!;
        fn(s, logp[o]!, refLogp[o]!);
      }
    }
  }
}

/** k1 estimator per sample: Σ_{t∈M} log p_θ(a_t) − log p_ref(a_t), [B·k]. Unbiased, can be negative. */
export function k1Kl(f: FillIns, logp: ArrayLike<number>, refLogp: ArrayLike<number>, reduction: TokenReduction = "sum"): Float64Array {
  checkPair(f, logp, refLogp);
  const w = tokenWeights(f, reduction);
  const out = new Float64Array(f.batchSize * f.groupSize);
  forEachSampledToken(f, logp, refLogp, (s, lp, lref) => (out[s]! += lp - lref));
  for (let s = 0; s < out.length; s++) out[s]! *= w[Math.floor(s / f.groupSize)]!;
  return out;
}

/** k3 estimator per sample (DeepSeekMath): Σ_{t∈M} r − log r − 1, r = p_ref(a_t)/p_θ(a_t), [B·k]. ≥ 0. */
export function k3Kl(f: FillIns, logp: ArrayLike<number>, refLogp: ArrayLike<number>, reduction: TokenReduction = "sum"): Float64Array {
  checkPair(f, logp, refLogp);
  const w = tokenWeights(f, reduction);
  const out = new Float64Array(f.batchSize * f.groupSize);
  forEachSampledToken(f, logp, refLogp, (s, lp, lref) => {
    const logR = lref - lp;
    out[s]! += Math.exp(logR) - logR - 1;
  });
  for (let s = 0; s < out.length; s++) out[s]! *= w[Math.floor(s / f.groupSize)]!;
  return out;
}

/** Any estimator as one value per sample, [B·k] (the exact KL repeated over each group). */
export function klPerSample(
  estimator: KlEstimator,
  f: FillIns,
  logp: ArrayLike<number>,
  refLogp: ArrayLike<number>,
  reduction: TokenReduction = "sum",
): Float64Array {
  switch (estimator) {
    case "k1":
      return k1Kl(f, logp, refLogp, reduction);
    case "k3":
      return k3Kl(f, logp, refLogp, reduction);
    case "exact": {
      const perInput = exactKl(f, logp, refLogp, reduction);
      const out = new Float64Array(f.batchSize * f.groupSize);
      for (let s = 0; s < out.length; s++) out[s] = perInput[Math.floor(s / f.groupSize)]!;
      return out;
    }
    default:
      throw new Error(`KL estimator is ${JSON.stringify(estimator)}; expected one of ${KL_ESTIMATORS.join(", ")}`);
  }
}

/**
 * log π(a_ij | x_i) = Σ_{t∈M_i} log p(a_t) ("sum") or its mean over M_i ("mean"), [B·k].
 * Computed from the sampling policy's distributions this is what the loss takes as oldLogProbs.
 */
export function sequenceLogProbs(f: FillIns, logp: ArrayLike<number>, reduction: TokenReduction = "sum"): Float64Array {
  checkFillIns(f);
  checkLogProbs("logp", f, logp);
  checkFiniteAtMask("logp", f, logp);
  const w = tokenWeights(f, reduction);
  const out = new Float64Array(f.batchSize * f.groupSize);
  forEachSampledToken(f, logp, logp, (s, lp) => (out[s]! += lp));
  for (let s = 0; s < out.length; s++) out[s]! *= w[Math.floor(s / f.groupSize)]!;
  return out;
}
