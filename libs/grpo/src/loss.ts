// The GRPO loss on plain arrays, in float64: the reference the tfjs loss is tested against, and a
// way to compute the loss metrics without a tensor engine.
//
//   L = −mean_ij[ log π_θ(a_ij|x_i) · A_ij ] + β · mean_ij KL_ij
//
// log π and KL are sums over the masked positions ("sum", seed) or means over them ("mean"; the
// KL is then a per-token KL too, so β weighs the two terms alike). With old log-probs (PPO,
// ppo_epochs > 1) the policy term becomes
//
//   L_pg = −mean_ij[ min(ρA, clip(ρ, 1−ε, 1+ε)A) − A + A·log π_old ],   ρ = exp(log π − log π_old).
//
// The "− A + A·log π_old" part is constant in θ, so the gradient is exactly PPO's; it makes the
// value equal the seed's −mean(log π · A) whenever ρ = 1 (the first epoch), so pg_loss does not
// jump to 0 (a plain PPO surrogate is −mean A = 0 there, since advantages are group-centred).

import type { FillIns, TokenReduction } from "./batch.ts";
import { TOKEN_REDUCTIONS, checkFiniteAtMask, checkFillIns, checkLogProbs, checkPerSample } from "./batch.ts";
import type { KlEstimator } from "./kl.ts";
import { KL_ESTIMATORS, klPerSample, sequenceLogProbs } from "./kl.ts";

export interface LossOptions {
  /** β, weight of the KL penalty. Seed 0.1. */
  klBeta?: number;
  /** Seed "exact". */
  klEstimator?: KlEstimator;
  /** Seed "sum". */
  tokenReduction?: TokenReduction;
  /** PPO clip range ε (used only when oldLogProbs are given). Default 0.2. */
  clipEps?: number;
  /**
   * Divide by this instead of B·k. For gradient accumulation pass the whole batch's B·k to every
   * micro-batch: the summed gradients and the summed metrics then equal the full batch's.
   */
  sampleCount?: number;
}

export type ResolvedLossOptions = Required<LossOptions>;

export const DEFAULT_LOSS_OPTIONS: Readonly<Omit<ResolvedLossOptions, "sampleCount">> = {
  klBeta: 0.1,
  klEstimator: "exact",
  tokenReduction: "sum",
  clipEps: 0.2,
};

export interface LossInputs extends FillIns {
  /** [B·k] from groupRelativeAdvantages. */
  advantages: ArrayLike<number>;
  /** [B, T, V] reference log-probs at the sampling temperature. Required when klBeta > 0. */
  refLogProbs?: ArrayLike<number>;
  /** [B·k] log π_old(a_ij|x_i), reduced like tokenReduction (sequenceLogProbs). Turns on PPO clipping. */
  oldLogProbs?: ArrayLike<number>;
}

export interface LossValues {
  loss: number;
  pgLoss: number;
  /** β · meanKl (0 when β = 0). */
  klPenalty: number;
  /** mean_ij KL_ij as it enters the loss; NaN when no reference log-probs were given. */
  meanKl: number;
  /** mean_ij log π_θ(a_ij|x_i), reduced like tokenReduction. */
  meanLogProb: number;
  /** Fraction of samples whose clipped PPO term was the smaller one (0 without oldLogProbs). */
  clipFrac: number;
}

export const LOSS_VALUE_KEYS = ["loss", "pgLoss", "klPenalty", "meanKl", "meanLogProb", "clipFrac"] as const;

/** Fills in defaults and checks every input the loss reads; shared by the array and tfjs losses. */
export function resolveLossInputs(inputs: LossInputs, options: LossOptions = {}): ResolvedLossOptions {
  checkFillIns(inputs);
  const o: ResolvedLossOptions = {
    ...DEFAULT_LOSS_OPTIONS,
    sampleCount: inputs.batchSize * inputs.groupSize,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  };
  if (!(Number.isFinite(o.klBeta) && o.klBeta >= 0)) throw new Error(`klBeta is ${o.klBeta}; expected a finite number ≥ 0`);
  if (!KL_ESTIMATORS.includes(o.klEstimator)) {
    throw new Error(`klEstimator is ${JSON.stringify(o.klEstimator)}; expected one of ${KL_ESTIMATORS.join(", ")}`);
  }
  if (!TOKEN_REDUCTIONS.includes(o.tokenReduction)) {
    throw new Error(`tokenReduction is ${JSON.stringify(o.tokenReduction)}; expected one of ${TOKEN_REDUCTIONS.join(", ")}`);
  }
  if (!(o.clipEps > 0 && o.clipEps < 1)) throw new Error(`clipEps is ${o.clipEps}; expected a number in (0, 1), e.g. 0.2`);
  if (!(Number.isFinite(o.sampleCount) && o.sampleCount > 0)) {
    throw new Error(`sampleCount is ${o.sampleCount}; expected a positive number (the B·k the loss is averaged over)`);
  }
  checkPerSample("advantages", inputs, inputs.advantages);
  if (inputs.oldLogProbs !== undefined) checkPerSample("oldLogProbs", inputs, inputs.oldLogProbs);
  if (inputs.refLogProbs !== undefined) {
    checkLogProbs("refLogProbs", inputs, inputs.refLogProbs);
    checkFiniteAtMask("refLogProbs", inputs, inputs.refLogProbs);
  } else if (o.klBeta > 0) {
    throw new Error(`klBeta is ${o.klBeta} but no refLogProbs were given; pass the reference log-probs [B, T, V] or set klBeta to 0`);
  }
  return o;
}

/** The loss and its parts from the policy's log-probs `logp` [B, T, V] (log-softmax at τ). */
export function grpoLossArrays(logp: ArrayLike<number>, inputs: LossInputs, options: LossOptions = {}): LossValues {
  const o = resolveLossInputs(inputs, options);
  checkLogProbs("logp", inputs, logp);
  const { groupSize: k } = inputs;
  const n = inputs.batchSize * k;
  const logPi = sequenceLogProbs(inputs, logp, o.tokenReduction);
  const kl = inputs.refLogProbs ? klPerSample(o.klEstimator, inputs, logp, inputs.refLogProbs, o.tokenReduction) : null;

  let pg = 0,
    klSum = 0,
    lpSum = 0,
    clipped = 0;
  for (let s = 0; s < n; s++) {
    const a = inputs.advantages[s]!;
    const lp = logPi[s]!;
    lpSum += lp;
    if (kl) klSum += kl[s]!;
    if (inputs.oldLogProbs) {
      const old = inputs.oldLogProbs[s]!;
      const ratio = Math.exp(lp - old);
      const unclippedTerm = ratio * a;
      const clippedTerm = Math.min(Math.max(ratio, 1 - o.clipEps), 1 + o.clipEps) * a;
      if (clippedTerm < unclippedTerm) clipped++;
      pg -= Math.min(unclippedTerm, clippedTerm) - a + a * old;
    } else {
      pg -= lp * a;
    }
  }
  const N = o.sampleCount;
  const meanKl = kl ? klSum / N : Number.NaN;
  const klPenalty = o.klBeta > 0 ? o.klBeta * meanKl : 0;
  const pgLoss = pg / N;
  return { loss: pgLoss + klPenalty, pgLoss, klPenalty, meanKl, meanLogProb: lpSum / N, clipFrac: clipped / N };
}

/** Sums micro-batch values computed with sampleCount = the whole batch's B·k. */
export function sumLossValues(parts: readonly LossValues[]): LossValues {
  const out: LossValues = { loss: 0, pgLoss: 0, klPenalty: 0, meanKl: 0, meanLogProb: 0, clipFrac: 0 };
  for (const p of parts) for (const key of LOSS_VALUE_KEYS) out[key] += p[key];
  return out;
}

/** An array's elements [start, end): a view for typed arrays, a copy for anything else. */
function range(a: ArrayLike<number>, start: number, end: number): ArrayLike<number> {
  if (ArrayBuffer.isView(a)) return (a as unknown as Float32Array).subarray(start, end);
  return Array.prototype.slice.call(a, start, end) as number[];
}

/**
 * Inputs [start, end) of a batch as a batch of their own (views, no copies of typed arrays): the
 * micro-batch of gradient accumulation. Pass the whole batch's B·k as sampleCount to each.
 */
export function sliceLossInputs(x: LossInputs, start: number, end: number): LossInputs {
  const { groupSize: k, seqLen: T, vocabSize: V } = x;
  return {
    batchSize: end - start,
    groupSize: k,
    seqLen: T,
    vocabSize: V,
    completions: x.completions.subarray(start * k * T, end * k * T),
    mask: x.mask.subarray(start * T, end * T),
    advantages: range(x.advantages, start * k, end * k),
    refLogProbs: x.refLogProbs === undefined ? undefined : range(x.refLogProbs, start * T * V, end * T * V),
    oldLogProbs: x.oldLogProbs === undefined ? undefined : range(x.oldLogProbs, start * k, end * k),
  };
}
