// Features of a transaction read from the customer's own past, as a live scoring system would
// compute them when the transaction arrives (Note [fraud features]), and the split by time.
//
// Note [fraud features]
// For transaction i of customer c, only c's earlier transactions are read (never a later one,
// never another customer's), so a feature means the same in training and at scoring time. The
// numeric features, in FRAUD_FEATURES order:
//   log_amount       ln(1 + amount)
//   amount_vs_usual  ln(amount) minus the mean ln(amount) of c's past transactions (0 with no past)
//   log_gap          ln(1 + seconds since c's previous transaction) (30 days with no past)
//   count_1h         ln(1 + c's transactions in the hour before)
//   count_24h        ln(1 + c's transactions in the 24 hours before)
//   merchants_1h     ln(1 + distinct merchants among those of the hour before)
//   amount_1h        ln(1 + the amount c spent in the hour before)
//   small_1h         ln(1 + charges under $3 in the hour before)
//   new_device       1 if c never used this device before (0 for c's first transaction)
//   foreign          1 if the region is not the one c used most so far (0 with no past)
//   new_merchant     1 if c never paid this merchant before (0 for c's first transaction)
//   hour_sin, hour_cos  the hour of the day on the circle
//   log_history      ln(1 + c's past transactions)
//   small            1 if the amount is under $3
// and two categorical ones, which the network learns an embedding for and logistic regression
// sees one-hot: the merchant's category (8) and the hour of the day (24).
//
// Note [fraud split]
// The split is by time, the honest choice for fraud: a model is trained on the past and scores
// the future, and a random split would let it learn an episode from its own later transactions.
// Transactions before 75% of the span from the first to the last (about day 45 of the
// synthetic 60) are trained on; the later ones
// are the test set. Customers appear on both sides, as they do in production; the test
// transactions' features read the customer's whole past, training period included.

import type { Transactions } from "./fraud-transactions.js";

export const FRAUD_FEATURES = [
  "log_amount", "amount_vs_usual", "log_gap", "count_1h", "count_24h", "merchants_1h", "amount_1h", "small_1h",
  "new_device", "foreign", "new_merchant", "hour_sin", "hour_cos", "log_history", "small",
] as const;
/** Sizes of the categorical features: merchant category, hour of day. */
export const FRAUD_CATEGORICAL_SIZES = [8, 24] as const;
/** Share of the time span trained on (Note [fraud split]). */
export const FRAUD_TRAIN_FRACTION = 0.75;
const SMALL = 3;
const HOUR = 3600;

/** A table of samples: numeric features row-major, categorical ids row-major, labels. */
export interface FeatureTable {
  /** (length, features) */
  numeric: Float32Array;
  features: number;
  /** (length, categorical sizes' count) */
  categorical: Int32Array;
  categoricalSizes: readonly number[];
  label: Uint8Array;
  length: number;
  /** Names of the numeric features. */
  names: readonly string[];
}

/**
 * The features of every transaction (Note [fraud features]); `tx` must be sorted by time.
 *
 * @example A customer's second charge an hour after a first, at a new merchant
 * ```ts
 * const tx = { time: Float64Array.of(0, 1800), customer: Int32Array.of(0, 0), merchant: Int32Array.of(1, 2),
 *   category: Int32Array.of(0, 4), amount: Float64Array.of(20, 2), region: Int32Array.of(0, 0), device: Int32Array.of(0, 0),
 *   label: Uint8Array.of(0, 1), pattern: Uint8Array.of(0, 1), length: 2 };
 * const f = transactionFeatures(tx);
 * const row = (i: number, name: string) => f.numeric[i * f.features + FRAUD_FEATURES.indexOf(name as never)];
 * assert.equal(row(1, "count_1h"), Math.fround(Math.log(2)));
 * assert.equal(row(1, "new_merchant"), 1);
 * assert.equal(row(1, "small"), 1);
 * ```
 */
export function transactionFeatures(tx: Transactions): FeatureTable {
  const F = FRAUD_FEATURES.length;
  const numeric = new Float32Array(tx.length * F);
  const categorical = new Int32Array(tx.length * 2);
  interface Past { times: number[]; amounts: number[]; merchants: number[]; sumLog: number; devices: Set<number>; seenMerchants: Set<number>; regions: Map<number, number>; topRegion: number; topCount: number }
  const pasts = new Map<number, Past>();
  for (let i = 0; i < tx.length; i++) {
    if (i > 0 && tx.time[i]! < tx.time[i - 1]!) throw new RangeError(`transactionFeatures: transaction ${i} comes before ${i - 1}: sort the transactions by time`);
    const c = tx.customer[i]!, t = tx.time[i]!, amount = tx.amount[i]!;
    let p = pasts.get(c);
    if (!p) pasts.set(c, (p = { times: [], amounts: [], merchants: [], sumLog: 0, devices: new Set(), seenMerchants: new Set(), regions: new Map(), topRegion: -1, topCount: 0 }));
    const n = p.times.length;
    let count1h = 0, count24h = 0, amount1h = 0, small1h = 0;
    const merchants1h = new Set<number>();
    for (let k = n - 1; k >= 0 && t - p.times[k]! <= 24 * HOUR; k--) {
      count24h++;
      if (t - p.times[k]! <= HOUR) {
        count1h++;
        amount1h += p.amounts[k]!;
        if (p.amounts[k]! < SMALL) small1h++;
        merchants1h.add(p.merchants[k]!);
      }
    }
    const hour = Math.floor((((t / HOUR) % 24) + 24) % 24);
    const angle = (2 * Math.PI * ((((t / HOUR) % 24) + 24) % 24)) / 24;
    const values = [
      Math.log1p(amount),
      n === 0 ? 0 : Math.log(Math.max(amount, 1e-2)) - p.sumLog / n,
      Math.log1p(n === 0 ? 30 * 24 * HOUR : t - p.times[n - 1]!),
      Math.log1p(count1h), Math.log1p(count24h), Math.log1p(merchants1h.size), Math.log1p(amount1h), Math.log1p(small1h),
      n > 0 && !p.devices.has(tx.device[i]!) ? 1 : 0,
      n > 0 && tx.region[i] !== p.topRegion ? 1 : 0,
      n > 0 && !p.seenMerchants.has(tx.merchant[i]!) ? 1 : 0,
      Math.sin(angle), Math.cos(angle),
      Math.log1p(n),
      amount < SMALL ? 1 : 0,
    ];
    numeric.set(values, i * F);
    categorical[i * 2] = tx.category[i]!;
    categorical[i * 2 + 1] = hour;
    // Then this transaction joins the customer's past.
    p.times.push(t);
    p.amounts.push(amount);
    p.merchants.push(tx.merchant[i]!);
    p.sumLog += Math.log(Math.max(amount, 1e-2));
    p.devices.add(tx.device[i]!);
    p.seenMerchants.add(tx.merchant[i]!);
    const r = (p.regions.get(tx.region[i]!) ?? 0) + 1;
    p.regions.set(tx.region[i]!, r);
    if (r > p.topCount) [p.topRegion, p.topCount] = [tx.region[i]!, r];
  }
  return { numeric, features: F, categorical, categoricalSizes: FRAUD_CATEGORICAL_SIZES, label: Uint8Array.from(tx.label), length: tx.length, names: FRAUD_FEATURES };
}

/** Rows [start, end) of a table, copied. */
export function sliceTable(t: FeatureTable, start: number, end: number): FeatureTable {
  const C = t.categoricalSizes.length;
  return {
    ...t,
    numeric: t.numeric.slice(start * t.features, end * t.features),
    categorical: t.categorical.slice(start * C, end * C),
    label: t.label.slice(start, end),
    length: end - start,
  };
}

/**
 * The index of the first transaction at or after `fraction` of the time span (Note [fraud
 * split]): rows before it are trained on, the others tested.
 *
 * @example
 * ```ts
 * assert.equal(timeSplitIndex(Float64Array.of(0, 10, 50, 75, 80, 100), 0.75), 3);
 * ```
 */
export function timeSplitIndex(time: Float64Array, fraction = FRAUD_TRAIN_FRACTION): number {
  if (time.length === 0) return 0;
  const cutoff = time[0]! + fraction * (time[time.length - 1]! - time[0]!);
  let i = 0;
  while (i < time.length && time[i]! < cutoff) i++;
  return i;
}

/** Per-feature mean and standard deviation (of the training rows), to standardize every side alike. */
export interface Standardizer {
  mean: Float64Array;
  std: Float64Array;
}

/** Mean and standard deviation of each numeric feature; a constant feature gets std 1. */
export function fitStandardizer(t: FeatureTable): Standardizer {
  const F = t.features;
  const mean = new Float64Array(F), sq = new Float64Array(F);
  for (let i = 0; i < t.length; i++) for (let f = 0; f < F; f++) mean[f]! += t.numeric[i * F + f]!;
  for (let f = 0; f < F; f++) mean[f]! /= Math.max(1, t.length);
  for (let i = 0; i < t.length; i++) for (let f = 0; f < F; f++) sq[f]! += (t.numeric[i * F + f]! - mean[f]!) ** 2;
  const std = Float64Array.from(sq, (s) => Math.sqrt(s / Math.max(1, t.length)) || 1);
  return { mean, std };
}

/** The table with its numeric features standardized by `s` (a copy). */
export function standardize(t: FeatureTable, s: Standardizer): FeatureTable {
  const F = t.features;
  const numeric = Float32Array.from(t.numeric, (v, j) => (v - s.mean[j % F]!) / s.std[j % F]!);
  return { ...t, numeric };
}

/** The rows of a table where `keep` is 1 (or 0 with `invert`), copied, in order. */
export function selectRows(t: FeatureTable, keep: ArrayLike<number>, invert = false): FeatureTable {
  const C = t.categoricalSizes.length, F = t.features;
  const rows: number[] = [];
  for (let i = 0; i < t.length; i++) if ((keep[i] === 1) !== invert) rows.push(i);
  const numeric = new Float32Array(rows.length * F), categorical = new Int32Array(rows.length * C);
  rows.forEach((r, j) => {
    numeric.set(t.numeric.subarray(r * F, (r + 1) * F), j * F);
    categorical.set(t.categorical.subarray(r * C, (r + 1) * C), j * C);
  });
  return { ...t, numeric, categorical, label: Uint8Array.from(rows, (r) => t.label[r]!), length: rows.length };
}
