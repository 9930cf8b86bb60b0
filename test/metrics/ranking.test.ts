// Ranking metrics on hand-worked examples, ties included (Note [tied scores]), and against a
// brute-force computation from their definitions on random scores with many ties.
import assert from "node:assert/strict";
import { test } from "node:test";
import { averagePrecision, precisionRecallCurve, recallAtFpr, rocAuc } from "../../src/metrics/ranking.js";
import { Rng } from "../../src/util/rng.js";

const close = (a: number, b: number, what = "") => assert.ok(Math.abs(a - b) < 1e-12, `${what} ${a} vs ${b}`);

test("average precision by hand, as scikit-learn's average_precision_score", () => {
  // sklearn: average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.8333...
  // Ranked: 0.8 (+) P 1 R 1/2; 0.4 (-) P 1/2 R 1/2; 0.35 (+) P 2/3 R 1; 0.1 (-) P 1/2 R 1.
  close(averagePrecision([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.5 * 1 + 0.5 * (2 / 3));
  // A perfect ranking is 1 whatever the prevalence.
  close(averagePrecision([0.9, 0.8, 0.1, 0.2, 0.3], [1, 1, 0, 0, 0]), 1);
  // The worst: the single positive last of 4: P = 1/4 at R = 1.
  close(averagePrecision([0.1, 0.5, 0.6, 0.7], [1, 0, 0, 0]), 0.25);
});

test("ties are flagged together: a positive tied with negatives gets the group's precision", () => {
  // All four tied: one threshold, P = 2/4, R = 1: AP 0.5, not 1 or 0.583 by some order.
  close(averagePrecision([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0]), 0.5);
  // The order of tied samples cannot matter.
  close(averagePrecision([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]), averagePrecision([0.9, 0.5, 0.5, 0.1], [1, 0, 1, 0]));
  close(averagePrecision([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]), 0.5 + 0.5 * (2 / 3));
  // ROC AUC: all tied is 1/2; one tied positive-negative pair among 4 pairs counts 1/2.
  close(rocAuc([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0]), 0.5);
  close(rocAuc([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]), 3.5 / 4);
  const curve = precisionRecallCurve([0.5, 0.5, 0.2], [1, 0, 0]);
  assert.deepEqual(curve.map((p) => [p.threshold, p.precision, p.recall, p.fpr]), [[0.5, 0.5, 1, 0.5], [0.2, 1 / 3, 1, 1]]);
});

test("recall at a bounded false-positive rate, by hand and with ties", () => {
  // 2 positives, 4 negatives; ranked 0.9 (+), 0.8 (-), 0.7 (+), ...
  const scores = [0.9, 0.8, 0.7, 0.3, 0.2, 0.1], labels = [1, 0, 1, 0, 0, 0];
  assert.equal(recallAtFpr(scores, labels, 0), 0.5);
  assert.equal(recallAtFpr(scores, labels, 0.25), 1);
  assert.equal(recallAtFpr(scores, labels, 0.24), 0.5);
  // The top group ties a positive with a negative: at FPR 0 nothing can be flagged.
  assert.equal(recallAtFpr([0.9, 0.9, 0.1, 0.1, 0.1], [1, 0, 0, 0, 1], 0), 0);
  assert.throws(() => recallAtFpr(scores, labels, 1.5), /maxFpr 1.5 must lie in \[0, 1\]/);
});

test("inputs are checked: one score per label, labels 0/1, both classes present", () => {
  assert.throws(() => averagePrecision([0.1], [1, 0]), /1 scores but 2 labels/);
  assert.throws(() => averagePrecision([0.1, 0.2], [1, 2]), /label 2 of sample 1 is not 0 or 1/);
  assert.throws(() => rocAuc([0.1, 0.2], [1, 1]), /2 positives and 0 negatives/);
  assert.throws(() => rocAuc([NaN, 0.2], [1, 0]), /score NaN of sample 0 is not finite/);
});

test("on random scores with many ties, the metrics equal their definitions computed by brute force", () => {
  const rng = new Rng(5);
  for (let trial = 0; trial < 20; trial++) {
    const n = 30 + rng.int(40);
    const labels = Array.from({ length: n }, (_, i) => (i < 3 ? i % 2 : rng.next() < 0.3 ? 1 : 0));
    const scores = Array.from({ length: n }, () => rng.int(8) / 8); // 8 distinct values: many ties
    const P = labels.filter((y) => y === 1).length, N = n - P;
    // ROC AUC: the Mann-Whitney count over every positive-negative pair.
    let pairs = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      if (labels[i] === 1 && labels[j] === 0) pairs += scores[i]! > scores[j]! ? 1 : scores[i] === scores[j] ? 0.5 : 0;
    }
    close(rocAuc(scores, labels), pairs / (P * N), "roc");
    // AP: over each distinct threshold, high to low, flag everything >= it.
    const thresholds = [...new Set(scores)].sort((a, b) => b - a);
    let ap = 0, previous = 0, bestRecall = 0;
    for (const s of thresholds) {
      const tp = labels.filter((y, i) => y === 1 && scores[i]! >= s).length;
      const fp = labels.filter((y, i) => y === 0 && scores[i]! >= s).length;
      ap += (tp / P - previous) * (tp / (tp + fp));
      previous = tp / P;
      if (fp / N <= 0.1) bestRecall = Math.max(bestRecall, tp / P);
    }
    close(averagePrecision(scores, labels), ap, "ap");
    close(recallAtFpr(scores, labels, 0.1), bestRecall, "recall");
  }
});
