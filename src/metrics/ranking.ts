// Ranking metrics for detection on plain arrays: a score per sample (higher means more likely
// positive) against a 0/1 label. Average precision (the area under the precision-recall curve as
// scikit-learn's average_precision_score computes it), ROC AUC, the recall reached at a bounded
// false-positive rate, and the precision-recall curve itself. Where fraud is 1 transaction in 150,
// accuracy says nothing (always "no" scores 99.3%); these read how well the positives rank.
//
// Note [tied scores]
// Every curve here moves threshold by threshold over the DISTINCT scores, from the highest down: at
// threshold s every sample scoring >= s is flagged. Samples that tie are therefore flagged
// together, never one before another, so the result does not depend on the order the samples
// came in. For average precision this is scikit-learn's definition,
//
//   AP = sum over thresholds k of (R_k - R_{k-1}) P_k,   R_0 = 0,
//
// with P_k and R_k the precision and recall with everything scoring >= the k-th distinct score
// flagged: a step function, not the trapezoid (which is optimistic between points). For ROC AUC a
// tie between a positive and a negative counts one half, as the Mann-Whitney statistic does.

/** One point of a precision-recall curve: everything scoring >= threshold is flagged. */
export interface PrPoint {
  threshold: number;
  precision: number;
  recall: number;
  /** False positives over negatives at this threshold. */
  fpr: number;
}

/** Labels as 0/1 with at least one of each checked; scores finite and one per label. */
function check(name: string, scores: ArrayLike<number>, labels: ArrayLike<number>): { positives: number; negatives: number } {
  if (scores.length !== labels.length) {
    throw new RangeError(`${name}: ${scores.length} scores but ${labels.length} labels; pass one score per sample`);
  }
  let positives = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (y !== 0 && y !== 1) throw new RangeError(`${name}: label ${y} of sample ${i} is not 0 or 1`);
    if (!Number.isFinite(scores[i]!)) throw new RangeError(`${name}: score ${scores[i]} of sample ${i} is not finite`);
    positives += y;
  }
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) {
    throw new RangeError(`${name}: ${positives} positives and ${negatives} negatives; the metric needs at least one of each`);
  }
  return { positives, negatives };
}

/**
 * The precision-recall curve (Note [tied scores]): one point per distinct score, highest first.
 *
 * @example Four samples, two of them tied
 * ```ts
 * const curve = precisionRecallCurve([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]);
 * assert.deepEqual(curve.map((p) => [p.threshold, p.precision, p.recall]), [[0.9, 1, 0.5], [0.5, 2 / 3, 1], [0.1, 0.5, 1]]);
 * ```
 */
export function precisionRecallCurve(scores: ArrayLike<number>, labels: ArrayLike<number>): PrPoint[] {
  const { positives, negatives } = check("precisionRecallCurve", scores, labels);
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  const curve: PrPoint[] = [];
  let tp = 0, fp = 0;
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    if (labels[i] === 1) tp++;
    else fp++;
    // Close a threshold only after the last of its ties.
    if (k + 1 < order.length && scores[order[k + 1]!] === scores[i]) continue;
    curve.push({ threshold: scores[i]!, precision: tp / (tp + fp), recall: tp / positives, fpr: fp / negatives });
  }
  return curve;
}

/**
 * Average precision, as scikit-learn's average_precision_score (Note [tied scores]):
 * sum of (R_k - R_{k-1}) P_k over the distinct thresholds. 1 when every positive outscores every
 * negative; about the positives' share for a random ranking.
 *
 * @example
 * ```ts
 * // Thresholds 0.9, 0.5 (tied pair), 0.1: R = 1/2, 1, 1 and P = 1, 2/3, 1/2.
 * assert.equal(averagePrecision([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]), 0.5 * 1 + 0.5 * (2 / 3));
 * ```
 */
export function averagePrecision(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  let ap = 0, previousRecall = 0;
  for (const p of precisionRecallCurve(scores, labels)) {
    ap += (p.recall - previousRecall) * p.precision;
    previousRecall = p.recall;
  }
  return ap;
}

/**
 * The area under the ROC curve: the chance that a random positive outscores a random negative, a
 * tie counting one half (Note [tied scores]).
 *
 * @example
 * ```ts
 * // Pairs (positive, negative): (0.9, 0.5) 1, (0.9, 0.1) 1, (0.5, 0.5) 1/2, (0.5, 0.1) 1.
 * assert.equal(rocAuc([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]), 3.5 / 4);
 * ```
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  // Trapezoids between the distinct thresholds' (FPR, TPR) points; a tied group is one diagonal
  // step, which is exactly the half credit of its positive-negative ties.
  let area = 0, previousFpr = 0, previousTpr = 0;
  for (const p of precisionRecallCurve(scores, labels)) {
    area += (p.fpr - previousFpr) * (p.recall + previousTpr) / 2;
    previousFpr = p.fpr;
    previousTpr = p.recall;
  }
  return area;
}

/**
 * The highest recall over the thresholds whose false-positive rate is at most `maxFpr` (0.01: one
 * legitimate sample in a hundred flagged); 0 when even the top score's tied group exceeds it.
 * Thresholds are the distinct scores (Note [tied scores]), so ties are flagged together.
 *
 * @example
 * ```ts
 * // 3 positives, 3 negatives. Flagging >= 0.9 catches 1/3 at FPR 0; >= 0.7 catches 2/3 at FPR 1/3.
 * const scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4], labels = [1, 0, 1, 0, 0, 1];
 * assert.equal(recallAtFpr(scores, labels, 0), 1 / 3);
 * assert.equal(recallAtFpr(scores, labels, 0.34), 2 / 3);
 * ```
 */
export function recallAtFpr(scores: ArrayLike<number>, labels: ArrayLike<number>, maxFpr: number): number {
  if (!(maxFpr >= 0 && maxFpr <= 1)) throw new RangeError(`recallAtFpr: maxFpr ${maxFpr} must lie in [0, 1] (0.01 for 1%)`);
  let best = 0;
  for (const p of precisionRecallCurve(scores, labels)) if (p.fpr <= maxFpr) best = Math.max(best, p.recall);
  return best;
}
