// Group-relative advantages (docs/design.md, "Advantages"). Pure arithmetic in float64; the result is float32
// because it goes straight into the loss tensors.
//
// Every std here is the POPULATION std (divide by k, numpy's default): it is what "the spread of
// this group" means for a fixed group, and it is defined for every group size. TRL uses
// torch.std (sample, divide by k − 1); the two differ by a factor √(k/(k−1)).

export type AdvantageNorm = "global" | "group" | "none";
export const ADVANTAGE_NORMS: readonly AdvantageNorm[] = ["global", "group", "none"];

/**
 * Smallest divisor any std may become, in reward units. Rewards are judge scores of order 1 or
 * 0/1 task rewards; a group whose spread is below 0.01 differs by judge noise, and dividing by
 * its std would blow that noise up to full-size advantages (TRL shipped a ≈4000× inflation from a
 * 1e-4 std). With the floor such a group's advantages shrink linearly with its spread instead.
 * Raise or lower it with the reward scale.
 */
export const DEFAULT_STD_FLOOR = 1e-2;
export const DEFAULT_EPS = 1e-8;

export interface AdvantageOptions {
  groupSize: number;
  norm: AdvantageNorm;
  /** Every std divisor is max(std, stdFloor) + eps. Default DEFAULT_STD_FLOOR. */
  stdFloor?: number;
  eps?: number;
}

export interface AdvantageResult {
  /** [B·k], group-major (index i·k + j). Exactly 0 for every member of an all-equal group. */
  advantages: Float32Array;
  /** Fraction of groups whose rewards are all equal (no learning signal). */
  fracZeroStdGroups: number;
  /** [B] mean reward of each group. */
  groupMeans: Float64Array;
  /** [B] population std of each group's rewards; exactly 0 for all-equal groups. */
  groupStds: Float64Array;
}

/** Refuses anything that is not a usable batch of grouped rewards; returns B. */
function checkRewards(rewards: ArrayLike<number>, groupSize: number): number {
  if (!Number.isInteger(groupSize) || groupSize < 2) {
    throw new Error(
      `groupSize is ${groupSize}; expected an integer ≥ 2 — group-relative advantages compare the ` +
        `members of a group, so a group of one has nothing to compare against (set group_size ≥ 2)`,
    );
  }
  const n = rewards.length;
  if (n === 0) throw new Error(`rewards is empty; expected B·groupSize > 0 rewards (skip the step instead)`);
  if (n % groupSize !== 0) {
    throw new Error(
      `got ${n} rewards, which is not a multiple of groupSize ${groupSize}; expected B·k rewards ` +
        `in group-major order — a group is missing members (check that every chunk of a judge call came back)`,
    );
  }
  for (let i = 0; i < n; i++) {
    const r = rewards[i]!;
    if (typeof r !== "number" || !Number.isFinite(r)) {
      throw new Error(
        `reward[${i}] is ${String(r)} (group ${Math.floor(i / groupSize)}, member ${i % groupSize}); ` +
          `expected a finite number — a missing or failed judge score must be retried or its group dropped, ` +
          `never averaged in`,
      );
    }
  }
  return n / groupSize;
}

function groupHasSignal(rewards: ArrayLike<number>, start: number, k: number): boolean {
  const first = rewards[start]!;
  for (let j = 1; j < k; j++) if (rewards[start + j] !== first) return true;
  return false;
}

/**
 * A_ij from rewards r_ij (group-major, [B·k]).
 * - "global" (seed): A = r − mean_j r, then A ← (A − mean A) / (std A + eps) over the batch.
 * - "group" (DeepSeekMath/TRL): A = (r − mean_j r) / (std_j + eps).
 * - "none" (Dr. GRPO): A = r − mean_j r.
 * "+ eps" is applied to max(std, stdFloor). Groups whose rewards are all equal get exactly 0
 * (the float mean of equal numbers is not always that number, so they are detected, not computed).
 */
export function groupRelativeAdvantages(rewards: ArrayLike<number>, options: AdvantageOptions): AdvantageResult {
  const { groupSize: k, norm } = options;
  const stdFloor = options.stdFloor ?? DEFAULT_STD_FLOOR;
  const eps = options.eps ?? DEFAULT_EPS;
  if (!ADVANTAGE_NORMS.includes(norm)) {
    throw new Error(`advantage norm is ${JSON.stringify(norm)}; expected one of ${ADVANTAGE_NORMS.join(", ")}`);
  }
  if (!(stdFloor >= 0 && Number.isFinite(stdFloor))) throw new Error(`stdFloor is ${stdFloor}; expected a finite number ≥ 0`);
  if (!(eps >= 0 && Number.isFinite(eps))) throw new Error(`eps is ${eps}; expected a finite number ≥ 0`);
  const B = checkRewards(rewards, k);

  const centered = new Float64Array(B * k);
  const groupMeans = new Float64Array(B);
  const groupStds = new Float64Array(B);
  const flat = new Uint8Array(B);
  let zeroStdGroups = 0;
  for (let i = 0; i < B; i++) {
    const s = i * k;
    let sum = 0;
    for (let j = 0; j < k; j++) sum += rewards[s + j]!;
    const mean = sum / k;
    groupMeans[i] = mean;
    if (!groupHasSignal(rewards, s, k)) {
      groupMeans[i] = rewards[s]!;
      flat[i] = 1;
      zeroStdGroups++;
      continue; // centered and groupStds stay exactly 0
    }
    let ss = 0;
    for (let j = 0; j < k; j++) {
      const d = rewards[s + j]! - mean;
      centered[s + j] = d;
      ss += d * d;
    }
    groupStds[i] = Math.sqrt(ss / k);
  }

  const advantages = new Float32Array(B * k);
  if (norm === "none") {
    advantages.set(centered);
  } else if (norm === "group") {
    for (let i = 0; i < B; i++) {
      if (flat[i]) continue;
      const div = Math.max(groupStds[i]!, stdFloor) + eps;
      for (let j = 0; j < k; j++) advantages[i * k + j] = centered[i * k + j]! / div;
    }
  } else {
    const n = B * k;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += centered[i]!;
    const mean = sum / n; // 0 up to rounding, since every group is centred
    let ss = 0;
    for (let i = 0; i < n; i++) ss += (centered[i]! - mean) ** 2;
    const div = Math.max(Math.sqrt(ss / n), stdFloor) + eps;
    for (let i = 0; i < B; i++) {
      if (flat[i]) continue; // keep no-signal groups at exactly 0 despite the rounding-level mean
      for (let j = 0; j < k; j++) advantages[i * k + j] = (centered[i * k + j]! - mean) / div;
    }
  }
  return { advantages, fracZeroStdGroups: zeroStdGroups / B, groupMeans, groupStds };
}

/**
 * DAPO-style filter: indices of the groups whose rewards are not all equal (the ones that carry a
 * learning signal), in order. Select those groups' inputs before computing advantages and the loss.
 */
export function dropZeroStdGroups(rewards: ArrayLike<number>, groupSize: number): number[] {
  const B = checkRewards(rewards, groupSize);
  const keep: number[] = [];
  for (let i = 0; i < B; i++) if (groupHasSignal(rewards, i * groupSize, groupSize)) keep.push(i);
  return keep;
}
