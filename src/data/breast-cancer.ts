// The Wisconsin Diagnostic Breast Cancer table (Wolberg, Street and Mangasarian, 1995): 569
// tumours, each 30 measurements of the cell nuclei in a fine-needle aspirate image (the mean,
// standard error and worst value of 10 nuclear features), labelled malignant or benign. Weft
// ships scikit-learn's copy of it as data/breast-cancer.csv (data/README.md); readBreastCancerCsv
// also reads the UCI repository's own wdbc.data, so a deployment can point at either file.
//
// Note [breast-cancer folds]
// The recipe is judged by k-fold cross-validation (k = 5 by default), the way this table is
// reported in the literature: with only 569 rows a single held-out split of ~114 tumours moves by
// almost 1% per misclassified tumour, so one split says little. The folds are stratified and
// seeded: the indices of each class (malignant first, then benign) are shuffled by
// Rng(seed).fork(class), and the shuffled list of both classes, malignant then benign, is dealt
// round-robin, position p going to fold p mod k. Every fold thus holds floor or ceil of 212/k
// malignant and 357/k benign tumours (for k = 5: 42 or 43 malignant, 71 or 72 benign; fold sizes
// 114, 114, 114, 114, 113), and nothing about the split depends on the training seed, the number
// of workers or the machine. Features are standardised per fold with the mean and standard
// deviation of that fold's training rows only (featureStats), so nothing of a held-out tumour
// reaches the model trained without it.

import { readFileSync } from "node:fs";
import { Rng } from "../util/rng.js";
import { shippedDataPath } from "./shipped-data.js";

/** Features per tumour. */
export const BREAST_CANCER_FEATURES = 30;
/** Label of a malignant tumour (scikit-learn's coding: 0 malignant, 1 benign). */
export const MALIGNANT = 0;
/** Label of a benign tumour. */
export const BENIGN = 1;

/** The table: `rows` tumours of BREAST_CANCER_FEATURES values each, row-major, and their labels. */
export interface BreastCancerTable {
  readonly rows: number;
  /** (rows, 30) row-major, in the file's feature order (10 means, 10 standard errors, 10 worst). */
  readonly features: Float32Array;
  /** MALIGNANT (0) or BENIGN (1) per row. */
  readonly labels: Int32Array;
}

/**
 * Parses the table in either of its two public formats:
 * - scikit-learn's breast_cancer.csv: a header "569,30,malignant,benign" (rows, features, the
 *   names of labels 0 and 1), then per row 30 numbers and the label 0 (malignant) or 1 (benign);
 * - the UCI repository's wdbc.data: no header, per row an ID, the diagnosis M or B, 30 numbers.
 * Both list the 30 features in the same order. A row of the wrong width, a value that is not a
 * number or a label that is none of these is refused with its line number.
 *
 * @example Two tumours in each format
 * ```ts
 * const values = Array.from({ length: 30 }, (_, i) => i + 0.5).join(",");
 * const sk = parseBreastCancerCsv(`2,30,malignant,benign\n${values},0\n${values},1\n`);
 * const uci = parseBreastCancerCsv(`842302,M,${values}\n8510426,B,${values}\n`);
 * assert.deepEqual([...sk.labels], [0, 1]);
 * assert.deepEqual([...uci.labels], [0, 1]);
 * assert.deepEqual(sk.features, uci.features);
 * assert.equal(sk.features[31], 1.5);
 * ```
 */
export function parseBreastCancerCsv(text: string, source = "the table"): BreastCancerTable {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  while (lines.length > 0 && lines.at(-1) === "") lines.pop();
  const first = lines[0]?.split(",") ?? [];
  const sklearn = first.length === 4 && first[2] === "malignant" && first[3] === "benign";
  const body = sklearn ? lines.slice(1) : lines;
  const rows = body.length;
  if (sklearn && Number(first[0]) !== rows) {
    throw new Error(`parseBreastCancerCsv: ${source} declares ${first[0]} rows in its header but holds ${rows}: the file is cut short or padded; fetch it again`);
  }
  const features = new Float32Array(rows * BREAST_CANCER_FEATURES);
  const labels = new Int32Array(rows);
  body.forEach((line, r) => {
    const lineNo = r + (sklearn ? 2 : 1);
    const cells = line.split(",");
    if (cells.length !== BREAST_CANCER_FEATURES + (sklearn ? 1 : 2)) {
      throw new Error(`parseBreastCancerCsv: line ${lineNo} of ${source} has ${cells.length} fields, expected ${BREAST_CANCER_FEATURES + (sklearn ? 1 : 2)} (${sklearn ? "30 features and the label" : "the ID, M or B, and 30 features"})`);
    }
    const label = sklearn ? cells[BREAST_CANCER_FEATURES]! : cells[1]!;
    const y = sklearn ? (label === "0" ? MALIGNANT : label === "1" ? BENIGN : -1) : (label === "M" ? MALIGNANT : label === "B" ? BENIGN : -1);
    if (y < 0) throw new Error(`parseBreastCancerCsv: line ${lineNo} of ${source} has the label "${label}", expected ${sklearn ? "0 (malignant) or 1 (benign)" : "M or B"}`);
    labels[r] = y;
    const values = sklearn ? cells.slice(0, BREAST_CANCER_FEATURES) : cells.slice(2);
    values.forEach((cell, j) => {
      const v = Number(cell);
      if (cell === "" || !Number.isFinite(v)) throw new Error(`parseBreastCancerCsv: line ${lineNo} of ${source}, feature ${j + 1}, is "${cell}", not a number`);
      features[r * BREAST_CANCER_FEATURES + j] = v;
    });
  });
  if (rows === 0) throw new Error(`parseBreastCancerCsv: ${source} holds no tumours`);
  return { rows, features, labels };
}

/**
 * Reads the table from a file in either public format (parseBreastCancerCsv): the shipped
 * data/breast-cancer.csv, or the UCI repository's wdbc.data for a deployment that fetches its own.
 */
export function readBreastCancerCsv(path: string): BreastCancerTable {
  return parseBreastCancerCsv(readFileSync(path, "utf8"), path);
}

/** The shipped copy, data/breast-cancer.csv, found above this module (from src/ or from dist/src/). */
export function breastCancerCsvPath(): string {
  return shippedDataPath("breast-cancer.csv", "readBreastCancerCsv");
}

let cached: BreastCancerTable | undefined;

/**
 * The shipped table (569 tumours: 212 malignant, 357 benign), read once per process; treat its
 * arrays as read-only.
 *
 * @example
 * ```ts
 * const t = loadBreastCancer();
 * assert.equal(t.rows, 569);
 * assert.equal(t.labels.filter((y) => y === MALIGNANT).length, 212);
 * ```
 */
export function loadBreastCancer(): BreastCancerTable {
  cached ??= readBreastCancerCsv(breastCancerCsvPath());
  return cached;
}

/**
 * The fold (0..k-1) of each row: stratified and seeded (Note [breast-cancer folds]).
 *
 * @example Six rows of two classes in three folds: each fold gets one of each
 * ```ts
 * const folds = stratifiedFolds(Int32Array.of(0, 0, 0, 1, 1, 1), 3, 0);
 * for (let f = 0; f < 3; f++) assert.deepEqual([0, 1, 2, 3, 4, 5].filter((i) => folds[i] === f).map((i) => i < 3 ? 0 : 1), [0, 1]);
 * assert.deepEqual(stratifiedFolds(Int32Array.of(0, 0, 0, 1, 1, 1), 3, 0), folds);
 * ```
 */
export function stratifiedFolds(labels: Int32Array, k: number, seed: number): Int32Array {
  if (!Number.isInteger(k) || k < 2 || k > labels.length) {
    throw new RangeError(`stratifiedFolds: ${k} folds of ${labels.length} rows: choose an integer from 2 to ${labels.length}`);
  }
  const classes = Math.max(...labels) + 1;
  const rng = new Rng(seed);
  const dealt: number[] = [];
  for (let c = 0; c < classes; c++) {
    const members = Int32Array.from([...labels.keys()].filter((i) => labels[i] === c));
    dealt.push(...rng.fork(c).shuffle(members));
  }
  const folds = new Int32Array(labels.length);
  dealt.forEach((row, p) => (folds[row] = p % k));
  return folds;
}

/** Per-feature mean and standard deviation of some rows. */
export interface FeatureStats {
  readonly mean: Float32Array;
  readonly std: Float32Array;
}

/**
 * The mean and (population) standard deviation of each feature over the rows where `include(row)`
 * holds: a fold's training rows. A feature constant over those rows gets std 1, so it
 * standardises to 0 instead of dividing by 0. Sums in float64.
 *
 * @example
 * ```ts
 * const s = featureStats(Float32Array.of(1, 10, 3, 10, 100, 0), 2, (r) => r < 2);
 * assert.deepEqual([[...s.mean], [...s.std]], [[2, 10], [1, 1]]);
 * ```
 */
export function featureStats(features: Float32Array, width: number, include: (row: number) => boolean): FeatureStats {
  const rows = features.length / width;
  const sum = new Float64Array(width), sq = new Float64Array(width);
  let n = 0;
  for (let r = 0; r < rows; r++) {
    if (!include(r)) continue;
    n++;
    for (let j = 0; j < width; j++) sum[j]! += features[r * width + j]!;
  }
  if (n === 0) throw new RangeError("featureStats: no row is included: a fold's training side cannot be empty");
  const mean = Float64Array.from(sum, (s) => s / n);
  for (let r = 0; r < rows; r++) {
    if (!include(r)) continue;
    for (let j = 0; j < width; j++) sq[j]! += (features[r * width + j]! - mean[j]!) ** 2;
  }
  return { mean: Float32Array.from(mean), std: Float32Array.from(sq, (s) => (s > 0 ? Math.sqrt(s / n) : 1)) };
}
