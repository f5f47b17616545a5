// Sequence log-probs of given completions, read from full [B, T, V] distributions: what the
// reference serves as completion_log_probs and what tests use to see whether an update helped.

/**
 * [B, k]: Σ over masked positions t of logp[b, t, completions[b, j, t]] (float64 sums, float32
 * out). `logp` holds log-probs at masked positions; other positions are not read.
 */
export function completionLogProbsFrom(
  logp: Float32Array,
  inputs: Int32Array,
  completions: Int32Array,
  shape: { batch: number; seqLen: number; groupSize: number; vocabSize: number; maskTokenId: number },
): Float32Array {
  const { batch: B, seqLen: T, groupSize: k, vocabSize: V, maskTokenId } = shape;
  const out = new Float32Array(B * k);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < k; j++) {
      let total = 0;
      for (let t = 0; t < T; t++) {
        if (inputs[b * T + t] !== maskTokenId) continue;
        total += logp[(b * T + t) * V + completions[(b * k + j) * T + t]!]!;
      }
      out[b * k + j] = total;
    }
  }
  return out;
}
