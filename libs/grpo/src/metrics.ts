// The seed's per-step metrics (names as the seed logs them) plus frac_zero_std_groups and clip_frac.

import type { AdvantageResult } from "./advantages.ts";
import type { LossValues } from "./loss.ts";

export interface StepMetrics {
  loss: number;
  pg_loss: number;
  kl_penalty: number;
  mean_reward: number;
  /** Population std of all B·k rewards. */
  std_reward: number;
  mean_advantage: number;
  mean_kl: number;
  mean_log_prob: number;
  frac_zero_std_groups: number;
  clip_frac: number;
}

function meanAndStd(values: ArrayLike<number>): [number, number] {
  const n = values.length;
  if (n === 0) throw new Error("cannot take metrics of an empty batch; expected at least one reward");
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i]!;
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i]! - mean) ** 2;
  return [mean, Math.sqrt(ss / n)];
}

/** One step's metrics from its rewards [B·k], the advantages computed from them, and the loss values. */
export function stepMetrics(rewards: ArrayLike<number>, advantages: AdvantageResult, loss: LossValues): StepMetrics {
  if (advantages.advantages.length !== rewards.length) {
    throw new Error(`got ${rewards.length} rewards but ${advantages.advantages.length} advantages; expected both from the same B·k samples`);
  }
  const [meanReward, stdReward] = meanAndStd(rewards);
  const [meanAdvantage] = meanAndStd(advantages.advantages);
  return {
    loss: loss.loss,
    pg_loss: loss.pgLoss,
    kl_penalty: loss.klPenalty,
    mean_reward: meanReward,
    std_reward: stdReward,
    mean_advantage: meanAdvantage,
    mean_kl: loss.meanKl,
    mean_log_prob: loss.meanLogProb,
    frac_zero_std_groups: advantages.fracZeroStdGroups,
    clip_frac: loss.clipFrac,
  };
}
