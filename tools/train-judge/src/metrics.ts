// Binary-classifier metrics over scores (logits): accuracy at 0 and ROC AUC.

/** Fraction of examples whose logit sign matches the label (logit > 0 ⇔ "real"). */
export function accuracy(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkLengths(scores, labels);
  let right = 0;
  for (let i = 0; i < scores.length; i++) if ((scores[i]! > 0 ? 1 : 0) === labels[i]) right++;
  return right / scores.length;
}

/**
 * ROC AUC as the Mann–Whitney statistic: the chance a random positive outscores a random
 * negative, ties counting half. Sorting once makes it O(n log n).
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkLengths(scores, labels);
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSum = 0;
  // Average ranks over runs of tied scores.
  for (let start = 0; start < order.length;) {
    let end = start;
    while (end + 1 < order.length && scores[order[end + 1]!] === scores[order[start]!]) end++;
    const meanRank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) {
      if (labels[order[k]!] === 1) {
        positives++;
        rankSum += meanRank;
      }
    }
    start = end + 1;
  }
  const negatives = scores.length - positives;
  if (positives === 0 || negatives === 0) throw new Error(`AUC needs both classes; got ${positives} positives and ${negatives} negatives`);
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

function checkLengths(scores: ArrayLike<number>, labels: ArrayLike<number>): void {
  if (scores.length !== labels.length || scores.length === 0) {
    throw new Error(`metrics need as many labels as scores (got ${scores.length} scores, ${labels.length} labels), at least one`);
  }
}
