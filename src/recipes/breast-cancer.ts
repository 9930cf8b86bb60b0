// breast-cancer: the real Wisconsin Diagnostic Breast Cancer table (569 tumours, 30 features of
// their cell nuclei, malignant or benign; data/breast-cancer.csv, data/breast-cancer.ts), judged
// by 5-fold cross-validation: the folds are stratified and seeded (Note [breast-cancer folds]),
// and one run trains the five folds' MLPs side by side, MLP k never seeing fold k (Note [five
// folds in one run], models/breast-cancer-mlp.ts). Quality bar: cv_accuracy >= 97% on 1 and on N
// workers (npm run test:full checks it).
//
//   weft train breast-cancer                  one process
//   weft train breast-cancer --workers 2      data-parallel on 2 workers (ddp)
//   weft train breast-cancer --hidden 0       logistic regression instead of the MLP
//
// The metric is `cv_accuracy`, the mean over the folds of MLP k's accuracy on fold k. Beside it:
// each fold's accuracy, their standard deviation, malignant recall and precision over every
// tumour's out-of-fold prediction (a missed cancer costs more than a false alarm), and
// `majority_accuracy`, what predicting each fold's training majority (benign) scores.
import {
  BENIGN, BREAST_CANCER_FEATURES, featureStats, loadBreastCancer, MALIGNANT, stratifiedFolds, type BreastCancerTable,
} from "../data/breast-cancer.js";
import type { Dataset } from "../data/index.js";
import { accuracy, classScores, confusionMatrix } from "../metrics/classification.js";
import { FoldMlps, type FoldBatch } from "../models/breast-cancer-mlp.js";
import { AdamW, warmupCosine } from "../optim/index.js";
import { defineRecipe, type RecipeSettings } from "../train/recipe.js";

const foldsOf = (s: RecipeSettings): number => s.options.folds as number;
const foldSeedOf = (s: RecipeSettings): number => s.options["fold-seed"] as number;

const foldCache = new Map<string, Int32Array>();

/** The fold of every row of the shipped table (Note [breast-cancer folds]), computed once per process. */
export function breastCancerFolds(folds: number, seed: number): Int32Array {
  const key = `${folds}:${seed}`;
  let f = foldCache.get(key);
  if (!f) foldCache.set(key, (f = stratifiedFolds(loadBreastCancer().labels, folds, seed)));
  return f;
}

/** Each row of a table is a sample: its index, which collateRows turns into features. */
class RowIndices implements Dataset<number> {
  constructor(readonly length: number) {}
  get(index: number): number {
    return index;
  }
}

/**
 * A batch of the table's rows with their folds, raw: each MLP standardises with its own fold's
 * statistics (FoldMlps.standardised).
 *
 * @example
 * ```ts
 * const table = { rows: 3, features: new Float32Array(90).map((_, i) => i), labels: Int32Array.of(0, 1, 1) };
 * const b = collateRows(table, Int32Array.of(2, 0, 1))([2, 0]);
 * assert.deepEqual([b.n, [...b.y], [...b.folds], b.x[0], b.x[30]], [2, [1, 0], [1, 2], 60, 0]);
 * ```
 */
export function collateRows(table: BreastCancerTable, folds: Int32Array): (rows: readonly number[]) => FoldBatch {
  return (rows) => {
    const n = rows.length;
    const x = new Float32Array(n * BREAST_CANCER_FEATURES);
    rows.forEach((r, i) => x.set(table.features.subarray(r * BREAST_CANCER_FEATURES, (r + 1) * BREAST_CANCER_FEATURES), i * BREAST_CANCER_FEATURES));
    return { x, y: Int32Array.from(rows, (r) => table.labels[r]!), folds: Int32Array.from(rows, (r) => folds[r]!), n };
  };
}

export const breastCancer = defineRecipe<number, FoldBatch>({
  name: "breast-cancer",
  summary: "an MLP per fold on the real Wisconsin breast-cancer table (569 tumours, 5 stratified seeded folds trained in one run), cv_accuracy >= 97%",
  defaults: { epochs: 60, batch: 32, lr: 3e-3, seed: 0 },
  options: {
    folds: { type: "int", min: 2, max: 20, default: 5, help: "cross-validation folds (stratified; one MLP each, trained side by side)" },
    "fold-seed": { type: "int", min: 0, default: 0, help: "seed of the stratified fold assignment (independent of --seed, which seeds the weights and the batch order)" },
    hidden: { type: "int", min: 0, max: 4096, default: 8, help: "hidden units of each fold's MLP; 0 is logistic regression" },
    "weight-decay": { type: "number", min: 0, max: 1, default: 0.01, help: "AdamW's decoupled weight decay" },
    "warmup-steps": { type: "int", min: 0, default: 20, help: "steps of linear learning-rate warm-up before the cosine decay" },
  },
  metric: { name: "cv_accuracy", higherIsBetter: true },
  data: (s) => {
    const table = loadBreastCancer();
    const folds = breastCancerFolds(foldsOf(s), foldSeedOf(s));
    const collate = collateRows(table, folds);
    return { train: new RowIndices(table.rows), collate: (rows) => collate(rows) };
  },
  model: (s) => {
    const table = loadBreastCancer();
    const folds = breastCancerFolds(foldsOf(s), foldSeedOf(s));
    const stats = Array.from({ length: foldsOf(s) }, (_, k) => featureStats(table.features, BREAST_CANCER_FEATURES, (r) => folds[r] !== k));
    return new FoldMlps({ features: BREAST_CANCER_FEATURES, hidden: s.options.hidden as number, classes: 2, stats });
  },
  loss: (model, batch) => (model as FoldMlps).loss(batch),
  samplesIn: (batch) => batch.n,
  optimizer: (model, s) => new AdamW(model.parameters(), { lr: s.lr, weightDecay: s.options["weight-decay"] as number }),
  schedule: (s, total) => warmupCosine({ peak: s.lr, warmup: s.options["warmup-steps"] as number, total }),
  evaluate: (model, s) => crossValidate(model as FoldMlps, loadBreastCancer(), breastCancerFolds(foldsOf(s), foldSeedOf(s))),
});

/** Every row's prediction by the MLP of its own fold, the one model trained without it. */
export function outOfFoldPredictions(m: FoldMlps, table: BreastCancerTable, folds: Int32Array): Int32Array {
  const predicted = new Int32Array(table.rows);
  for (let k = 0; k < m.folds; k++) {
    const rows = [...folds.keys()].filter((r) => folds[r] === k);
    const x = new Float32Array(rows.length * BREAST_CANCER_FEATURES);
    rows.forEach((r, i) => x.set(table.features.subarray(r * BREAST_CANCER_FEATURES, (r + 1) * BREAST_CANCER_FEATURES), i * BREAST_CANCER_FEATURES));
    const p = m.predict(k, x, rows.length);
    rows.forEach((r, i) => (predicted[r] = p[i]!));
  }
  return predicted;
}

/**
 * Scores MLP k on fold k for every k (Note [five folds in one run]): `cv_accuracy`, the mean of
 * the folds' accuracies, `cv_accuracy_std` their (population) standard deviation, and
 * `fold<k>_accuracy`; then, over every row's out-of-fold prediction, malignant recall and
 * precision and the benign recall; and `majority_accuracy`, each fold predicted as its training
 * rows' majority class.
 */
export function crossValidate(m: FoldMlps, table: BreastCancerTable, folds: Int32Array): Record<string, number> {
  const predicted = outOfFoldPredictions(m, table, folds);
  const out: Record<string, number> = {};
  const accuracies: number[] = [];
  let majorityRight = 0;
  for (let k = 0; k < m.folds; k++) {
    const rows = [...folds.keys()].filter((r) => folds[r] === k);
    const right = rows.filter((r) => predicted[r] === table.labels[r]).length;
    accuracies.push(right / rows.length);
    out[`fold${k}_accuracy`] = right / rows.length;
    // The majority baseline learns its one class from the training side too.
    let benign = 0, trainRows = 0;
    for (let r = 0; r < table.rows; r++) if (folds[r] !== k) { trainRows++; if (table.labels[r] === BENIGN) benign++; }
    const majority = 2 * benign >= trainRows ? BENIGN : MALIGNANT;
    majorityRight += rows.filter((r) => table.labels[r] === majority).length / rows.length;
  }
  const mean = accuracies.reduce((a, b) => a + b, 0) / accuracies.length;
  const matrix = confusionMatrix(table.labels, predicted, 2);
  const malignant = classScores(matrix, MALIGNANT);
  return {
    cv_accuracy: mean,
    cv_accuracy_std: Math.sqrt(accuracies.reduce((a, b) => a + (b - mean) ** 2, 0) / accuracies.length),
    ...out,
    pooled_accuracy: accuracy(matrix),
    malignant_recall: malignant.recall,
    malignant_precision: malignant.precision,
    benign_recall: classScores(matrix, BENIGN).recall,
    majority_accuracy: majorityRight / m.folds,
  };
}
