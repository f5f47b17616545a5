// The GRPO loss of loss.ts as a differentiable function of the policy's log-probs, written once
// against the op set of @grpomesh/model/forward: tfjs runs it (loss-tf.ts), the onnxruntime engine
// turns it into its training graph. grpoLossArrays is the oracle it is tested against. Quantities
// that do not depend on the weights (token weights, completion ids, masked reference log-probs)
// are built here in JS, once, by lossData.
import type { Ops } from "@grpomesh/model/forward";
import { tokenWeights } from "./batch.ts";
import type { KlEstimator } from "./kl.ts";
import type { LossInputs, LossValues, ResolvedLossOptions } from "./loss.ts";

/** How the KL term is computed: none (no reference given), or one of the estimators. */
export type KlMode = "none" | KlEstimator;

/** The parts a loss has; graph engines build one graph per combination. */
export interface LossSpec {
  kl: KlMode;
  /** β > 0: the KL enters the loss (β·meanKl); otherwise mean_kl is only reported. */
  klInLoss: boolean;
  /** PPO clipping with old log-probs. */
  ppo: boolean;
}

export function lossSpec(inputs: LossInputs, o: ResolvedLossOptions): LossSpec {
  const kl: KlMode = inputs.refLogProbs ? o.klEstimator : "none";
  return { kl, klInLoss: kl !== "none" && o.klBeta > 0, ppo: inputs.oldLogProbs !== undefined };
}

/** The loss's data-only inputs (they do not depend on the weights) as flat arrays; shapes in lossDataShapes. */
export interface LossData {
  completionIds: Int32Array;
  tokenWeight: Float32Array;
  tokenMask: Float32Array;
  advantages: Float32Array;
  oldLogProbs: Float32Array | null;
  ref: Float32Array | null;
}

/**
 * The LossData entries a spec's loss reads, with their shapes (B rows first): completionIds
 * [B, T, k] (integers; the ids at masked positions, 0 elsewhere), tokenWeight [B, T, 1] (the
 * token weight of input i, 1 or 1/|M_i|, at masked positions, 0 elsewhere), advantages [B, k];
 * with PPO oldLogProbs [B, k] (reduced like the tokens); ref for the exact KL [B, T, V] (the
 * reference log-probs at masked positions, 0 elsewhere), for k1/k3 [B, T, k] (the reference
 * log-prob of each completion token) and tokenMask [B, T, 1] (1 at masked positions).
 */
export function lossDataShapes(spec: LossSpec, B: number, T: number, k: number, V: number): Array<[keyof LossData, number[]]> {
  const out: Array<[keyof LossData, number[]]> = [
    ["completionIds", [B, T, k]],
    ["tokenWeight", [B, T, 1]],
    ["advantages", [B, k]],
  ];
  if (spec.ppo) out.push(["oldLogProbs", [B, k]]);
  if (spec.kl === "exact") out.push(["ref", [B, T, V]]);
  else if (spec.kl !== "none") out.push(["ref", [B, T, k]], ["tokenMask", [B, T, 1]]);
  return out;
}

export function lossData(inputs: LossInputs, o: ResolvedLossOptions, spec: LossSpec): LossData {
  const { batchSize: B, groupSize: k, seqLen: T, vocabSize: V, mask, completions } = inputs;
  const w = tokenWeights(inputs, o.tokenReduction);
  const completionIds = new Int32Array(B * T * k);
  const tokenWeight = new Float32Array(B * T);
  const tokenMask = new Float32Array(B * T);
  for (let i = 0; i < B; i++) {
    for (let t = 0; t < T; t++) {
      if (!mask[i * T + t]) continue;
      tokenWeight[i * T + t] = w[i]!;
      tokenMask[i * T + t] = 1;
      for (let j = 0; j < k; j++) completionIds[(i * T + t) * k + j] = completions[(i * k + j) * T + t]!;
    }
  }
  const refIn = inputs.refLogProbs;
  let ref: Float32Array | null = null;
  if (spec.kl === "exact") {
    ref = new Float32Array(B * T * V);
    for (let p = 0; p < B * T; p++) if (tokenMask[p]) for (let v = p * V; v < p * V + V; v++) ref[v] = refIn![v]!;
  } else if (spec.kl !== "none") {
    ref = new Float32Array(B * T * k);
    for (let p = 0; p < B * T; p++) if (tokenMask[p]) for (let j = 0; j < k; j++) ref[p * k + j] = refIn![p * V + completionIds[p * k + j]!]!;
  }
  return {
    completionIds,
    tokenWeight,
    tokenMask,
    advantages: Float32Array.from(inputs.advantages),
    oldLogProbs: spec.ppo ? Float32Array.from(inputs.oldLogProbs!) : null,
    ref,
  };
}

/** The entries of lossDataShapes as tensors of an engine, and the scalars. */
export type LossTensors<X> = { [name in keyof LossData]?: X } & {
  /** k */
  groupSize: number;
  /** The B·k the loss is averaged over. */
  sampleCount: X | number;
  klBeta: X | number;
  /** 1 − ε and 1 + ε */
  clipLow: X | number;
  clipHigh: X | number;
};

/** The loss and its parts; null where the spec has no such part. */
export interface LossParts<X> {
  loss: X;
  pgLoss: X;
  klPenalty: X | null;
  meanKl: X | null;
  meanLogProb: X;
  clipFrac: X | null;
}

/** The loss from `logp` [B, T, V] (the policy's log-softmax at τ, a function of the weights); see loss.ts for the formula. */
export function grpoLoss<X>(o: Ops<X>, logp: X, x: LossTensors<X>, spec: LossSpec): LossParts<X> {
  const sum = (t: X, rank: number) => o.reduceSum(t, [...Array(rank).keys()], false);
  const N = x.sampleCount;
  const tokenLogp = o.gatherElements(logp, x.completionIds!, 2); // [B, T, k]
  const tokenWeight = x.tokenWeight!;
  const logPi = o.reduceSum(o.mul(tokenLogp, tokenWeight), [1], false); // [B, k]
  const adv = x.advantages!;

  let pgSum: X;
  let clipFrac: X | null = null;
  if (spec.ppo) {
    const old = x.oldLogProbs!;
    const ratio = o.exp(o.sub(logPi, old));
    const unclipped = o.mul(ratio, adv);
    const clipped = o.mul(o.clip(ratio, x.clipLow, x.clipHigh), adv);
    const surrogate = o.min(unclipped, clipped); // ties send the gradient to the unclipped term
    pgSum = o.neg(sum(o.add(o.sub(surrogate, adv), o.mul(adv, old)), 2));
    clipFrac = o.div(sum(o.less(clipped, unclipped), 2), N);
  } else {
    pgSum = o.neg(sum(o.mul(logPi, adv), 2));
  }
  const pgLoss = o.div(pgSum, N);

  let meanKl: X | null = null;
  if (spec.kl === "exact") {
    // one distribution per input, so its KL is shared by the k members of the group
    const klTok = o.reduceSum(o.mul(o.exp(logp), o.sub(logp, x.ref!)), [2], true); // [B, T, 1]
    meanKl = o.div(o.mul(sum(o.mul(klTok, tokenWeight), 3), x.groupSize), N);
  } else if (spec.kl !== "none") {
    // masking the log-ratio (not only the sum) keeps exp() finite at unmasked positions
    const logRatio = o.mul(o.sub(x.ref!, tokenLogp), x.tokenMask!);
    const perToken = spec.kl === "k1" ? o.neg(logRatio) : o.sub(o.sub(o.exp(logRatio), logRatio), 1);
    meanKl = o.div(sum(o.mul(perToken, tokenWeight), 3), N);
  }
  let loss = pgLoss;
  let klPenalty: X | null = null;
  if (meanKl && spec.klInLoss) {
    klPenalty = o.mul(meanKl, x.klBeta);
    loss = o.add(pgLoss, klPenalty);
  }
  return { loss, pgLoss, klPenalty, meanKl, meanLogProb: o.div(sum(logPi, 2), N), clipFrac };
}

/** LossValues from the parts, read by `read`; a missing part is 0 (meanKl: NaN, as grpoLossArrays). */
export function readLossParts<X>(parts: LossParts<X>, read: (x: X) => number): LossValues {
  const or = (t: X | null, none: number) => (t === null ? none : read(t));
  return {
    loss: read(parts.loss),
    pgLoss: read(parts.pgLoss),
    klPenalty: or(parts.klPenalty, 0),
    meanKl: or(parts.meanKl, Number.NaN),
    meanLogProb: read(parts.meanLogProb),
    clipFrac: or(parts.clipFrac, 0),
  };
}
