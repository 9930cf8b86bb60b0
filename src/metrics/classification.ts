// Classification metrics on plain label arrays: the confusion matrix and what is read from it
// (accuracy, per-class precision, recall and F1). Labels are class indices 0..classes-1.

/** counts[t * classes + p]: how many samples of true class t were predicted as p. */
export interface ConfusionMatrix {
  readonly classes: number;
  readonly counts: Int32Array;
}

/** The confusion matrix of `predicted` against `truth`, both of class indices below `classes`. */
export function confusionMatrix(truth: ArrayLike<number>, predicted: ArrayLike<number>, classes: number): ConfusionMatrix {
  if (truth.length !== predicted.length) {
    throw new Error(`confusionMatrix: ${truth.length} true labels but ${predicted.length} predictions; pass one prediction per sample`);
  }
  const counts = new Int32Array(classes * classes);
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i]!, p = predicted[i]!;
    if (!(t >= 0 && t < classes && p >= 0 && p < classes) || !Number.isInteger(t) || !Number.isInteger(p)) {
      throw new Error(`confusionMatrix: sample ${i} has true label ${t} and prediction ${p}; both must be integers in [0, ${classes})`);
    }
    counts[t * classes + p]!++;
  }
  return { classes, counts };
}

/** The share of samples whose prediction is their true class. */
export function accuracy(m: ConfusionMatrix): number {
  let right = 0, all = 0;
  for (let t = 0; t < m.classes; t++) {
    for (let p = 0; p < m.classes; p++) {
      const c = m.counts[t * m.classes + p]!;
      all += c;
      if (t === p) right += c;
    }
  }
  return all === 0 ? 0 : right / all;
}

export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  /** Samples of this class in the truth. */
  support: number;
}

/**
 * Precision, recall and F1 of one class, treated as the positive one. A ratio with nothing to
 * count (no predictions of the class, or no samples of it) is 0, as scikit-learn reports it with
 * zero_division=0: a model that never predicts spam has no spam precision to its credit.
 */
export function classScores(m: ConfusionMatrix, positive: number): ClassScores {
  let tp = 0, predictedPositive = 0, actualPositive = 0;
  for (let k = 0; k < m.classes; k++) {
    predictedPositive += m.counts[k * m.classes + positive]!;
    actualPositive += m.counts[positive * m.classes + k]!;
  }
  tp = m.counts[positive * m.classes + positive]!;
  const precision = predictedPositive === 0 ? 0 : tp / predictedPositive;
  const recall = actualPositive === 0 ? 0 : tp / actualPositive;
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1, support: actualPositive };
}

/** The unweighted mean of every class's F1 (macro F1). */
export function macroF1(m: ConfusionMatrix): number {
  let sum = 0;
  for (let c = 0; c < m.classes; c++) sum += classScores(m, c).f1;
  return sum / m.classes;
}
