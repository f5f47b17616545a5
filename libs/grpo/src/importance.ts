// The off-policy correction of a pipelined step (docs/design.md, "Pipelined steps"). With
// max_staleness > 0 a step's completions may have been sampled by an older policy version π_behav
// than the weights π_prox the update starts from. The loss is decoupled PPO (AReaL) with a capped
// behaviour weight (truncated importance sampling):
//
//   L_pg = −mean_ij[ w_ij · min(ρ_ij A_ij, clip(ρ_ij, 1−ε, 1+ε) A_ij) ],
//   w_ij = min(π_prox(a_ij|x_i) / π_behav(a_ij|x_i), C)   (no gradient),   ρ_ij = π_θ / π_prox.
//
// w is a positive constant per completion, so w·min(ρA, clip(ρ)A) = min(ρ·wA, clip(ρ)·wA): the
// corrected loss is the ordinary GRPO/PPO loss with advantages w·A and π_prox as the PPO "old"
// policy. In the first (or only) epoch θ = prox, ρ = 1, and the gradient is −mean(w·A·∇log π_θ),
// the truncated importance-sampling policy gradient. When the behaviour policy is π_prox (a
// synchronous step) every w is 1 and nothing changes.

export interface ImportanceWeights {
  /** [B·k] min(exp(logProx − logBehav), cap), or the uncapped weight when cap is 0. */
  weights: Float64Array;
  mean: number;
  min: number;
  max: number;
  /** Share of completions whose weight was cut to the cap. */
  cappedFrac: number;
}

/**
 * Importance weights from sequence log-probs (reduced as the loss reduces them, sequenceLogProbs):
 * `prox` under the weights the update starts from, `behaviour` under the weights that sampled.
 * `cap` 0: no cap; otherwise ≥ 1.
 */
export function importanceWeights(prox: ArrayLike<number>, behaviour: ArrayLike<number>, cap: number): ImportanceWeights {
  if (prox.length !== behaviour.length) {
    throw new Error(`importance weights need one proximal and one behaviour log-prob per completion; got ${prox.length} and ${behaviour.length}`);
  }
  if (!(cap === 0 || (Number.isFinite(cap) && cap >= 1))) throw new Error(`importance weight cap is ${cap}; expected 0 (no cap) or a number ≥ 1`);
  const n = prox.length;
  const weights = new Float64Array(n);
  let sum = 0,
    min = Infinity,
    max = -Infinity,
    capped = 0;
  for (let s = 0; s < n; s++) {
    const lp = prox[s]!,
      lb = behaviour[s]!;
    if (!Number.isFinite(lp) || !Number.isFinite(lb)) {
      throw new Error(`completion ${s}: log-probs must be finite to weight it (proximal ${lp}, behaviour ${lb})`);
    }
    let w = Math.exp(lp - lb);
    if (cap > 0 && w > cap) {
      w = cap;
      capped++;
    }
    weights[s] = w;
    sum += w;
    if (w < min) min = w;
    if (w > max) max = w;
  }
  return n === 0 ? { weights, mean: 1, min: 1, max: 1, cappedFrac: 0 } : { weights, mean: sum / n, min, max, cappedFrac: capped / n };
}

/** Advantages w·A of the corrected loss (float32, as the loss reads them). */
export function weightAdvantages(advantages: ArrayLike<number>, w: ArrayLike<number>): Float32Array {
  if (advantages.length !== w.length) throw new Error(`${advantages.length} advantages but ${w.length} importance weights`);
  return Float32Array.from(advantages, (a, s) => a * w[s]!);
}
