// How far a judge's scores agree with another's on the same sequences: rank correlation over all
// of them and within each group, and whether each group's best member is the same — what an int8
// judge must keep of its fp32 original (quantize.ts), for its tests and `npm run bench -- quant`.

/** Spearman's rank correlation (ties get their mean rank). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ranks = (x: ArrayLike<number>) => {
    const order = Array.from({ length: x.length }, (_, i) => i).sort((i, j) => x[i]! - x[j]!);
    const r = new Float64Array(x.length);
    for (let s = 0; s < order.length;) {
      let e = s;
      while (e + 1 < order.length && x[order[e + 1]!] === x[order[s]!]) e++;
      for (let q = s; q <= e; q++) r[order[q]!] = (s + e) / 2;
      s = e + 1;
    }
    return r;
  };
  const [ra, rb] = [ranks(a), ranks(b)];
  const n = ra.length;
  const mean = (n - 1) / 2;
  let num = 0,
    da = 0,
    db = 0;
  for (let i = 0; i < n; i++) {
    num += (ra[i]! - mean) * (rb[i]! - mean);
    da += (ra[i]! - mean) ** 2;
    db += (rb[i]! - mean) ** 2;
  }
  return da > 0 && db > 0 ? num / Math.sqrt(da * db) : Number.NaN;
}

export interface Agreement {
  sequences: number;
  groups: number;
  spearman: number;
  /** Mean over groups of the Spearman correlation within the group (groups whose fp32 scores are all equal left out). */
  spearmanWithinGroups: number;
  /** Share of groups whose highest-scored member is the same under both judges. */
  sameBest: number;
  maxAbsDiff: number;
}

export function agreement(a: Float32Array, b: Float32Array, k: number): Agreement {
  const groups = a.length / k;
  let sameBest = 0,
    within = 0,
    counted = 0,
    maxAbsDiff = 0;
  const argmax = (x: Float32Array) => x.reduce((best, v, i) => (v > x[best]! ? i : best), 0);
  for (let g = 0; g < groups; g++) {
    const ga = a.subarray(g * k, (g + 1) * k),
      gb = b.subarray(g * k, (g + 1) * k);
    if (argmax(ga) === argmax(gb)) sameBest++;
    const r = spearman(ga, gb);
    if (Number.isFinite(r)) {
      within += r;
      counted++;
    }
  }
  for (let i = 0; i < a.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[i]! - b[i]!));
  return {
    sequences: a.length,
    groups,
    spearman: spearman(a, b),
    spearmanWithinGroups: within / Math.max(1, counted),
    sameBest: sameBest / groups,
    maxAbsDiff,
  };
}
