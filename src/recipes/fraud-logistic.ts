// The fraud recipe's baseline: logistic regression on the same engineered features, the
// categorical ones one-hot, fitted to convergence by Newton's method (iteratively reweighted least
// squares) in float64, with the penalty scikit-learn's LogisticRegression uses by default.
//
// Note [logistic regression]
// With x_i the standardized numeric features, then a 1 for each categorical value, then a 1 for
// the bias, p_i = sigmoid(w . x_i), and y_i in {0, 1}, the fit minimizes
//
//   L(w) = sum over i of -(y_i ln p_i + (1 - y_i) ln(1 - p_i)) + (C^-1 / 2) |w without the bias|^2,
//
// with C = 1 (scikit-learn's default, where the intercept is not penalized either). Its gradient
// is X^T (p - y) + w / C and its Hessian X^T diag(p (1 - p)) X + I / C (the bias's diagonal entry
// without the 1 / C); each Newton step solves H d = gradient by Cholesky and sets w -= d, until
// the largest |d| is below 1e-9 (a dozen steps here). L is strictly convex, so the optimum is
// unique: the baseline does not depend on a seed, a learning rate or a step budget.
import type { FeatureTable } from "../data/fraud-features.js";

/** A fitted logistic regression: weights over [numeric..., one-hot categorical..., bias]. */
export interface LogisticModel {
  weights: Float64Array;
  features: number;
  categoricalSizes: readonly number[];
  /** Newton steps taken. */
  steps: number;
}

/** Row i as sparse (index, value) pairs: the numeric features, each categorical one-hot, the bias. */
function rowOf(t: FeatureTable, i: number, index: Int32Array, value: Float64Array): number {
  const F = t.features, C = t.categoricalSizes.length;
  let n = 0;
  for (let f = 0; f < F; f++) {
    index[n] = f;
    value[n++] = t.numeric[i * F + f]!;
  }
  let offset = F;
  for (let k = 0; k < C; k++) {
    index[n] = offset + t.categorical[i * C + k]!;
    value[n++] = 1;
    offset += t.categoricalSizes[k]!;
  }
  index[n] = offset; // the bias
  value[n++] = 1;
  return n;
}

const dimensionOf = (t: { features: number; categoricalSizes: readonly number[] }): number => t.features + t.categoricalSizes.reduce((a, b) => a + b, 0) + 1;

/**
 * Fits logistic regression by Newton's method (Note [logistic regression]).
 *
 * @example One feature that separates nothing: the fit is the base rate
 * ```ts
 * const t = { numeric: Float32Array.of(0, 0, 0, 0), features: 1, categorical: new Int32Array(0), categoricalSizes: [],
 *   label: Uint8Array.of(1, 0, 0, 0), length: 4, names: ["x"] };
 * const m = fitLogistic(t);
 * assert.ok(Math.abs(logisticScores(m, t)[0]! - 0.25) < 1e-9);
 * ```
 */
export function fitLogistic(t: FeatureTable, o: { c?: number; maxSteps?: number } = {}): LogisticModel {
  const c = o.c ?? 1, maxSteps = o.maxSteps ?? 50;
  const D = dimensionOf(t), bias = D - 1;
  const w = new Float64Array(D);
  const index = new Int32Array(D), value = new Float64Array(D);
  let steps = 0;
  for (; steps < maxSteps; steps++) {
    const g = new Float64Array(D), h = new Float64Array(D * D);
    for (let j = 0; j < bias; j++) {
      g[j] = w[j]! / c;
      h[j * D + j] = 1 / c;
    }
    h[bias * D + bias] = 1e-12; // keeps H positive definite should a column be all zeros
    for (let i = 0; i < t.length; i++) {
      const n = rowOf(t, i, index, value);
      let z = 0;
      for (let a = 0; a < n; a++) z += w[index[a]!]! * value[a]!;
      const p = 1 / (1 + Math.exp(-z));
      const r = p - t.label[i]!, s = p * (1 - p);
      for (let a = 0; a < n; a++) {
        const ia = index[a]!, va = value[a]!;
        g[ia]! += r * va;
        for (let b = 0; b <= a; b++) h[ia * D + index[b]!]! += s * va * value[b]!;
      }
    }
    // Only one triangle was summed (index order within a row is increasing): mirror it.
    for (let a = 0; a < D; a++) for (let b = 0; b < a; b++) {
      const sum = h[a * D + b]! + h[b * D + a]!;
      h[a * D + b] = h[b * D + a] = sum;
    }
    const d = choleskySolve(h, g, D);
    let largest = 0;
    for (let j = 0; j < D; j++) {
      w[j]! -= d[j]!;
      largest = Math.max(largest, Math.abs(d[j]!));
    }
    if (largest < 1e-9) {
      steps++;
      break;
    }
  }
  return { weights: w, features: t.features, categoricalSizes: t.categoricalSizes, steps };
}

/** Solves A x = b for a symmetric positive-definite A (D x D, row-major), by Cholesky. */
function choleskySolve(a: Float64Array, b: Float64Array, D: number): Float64Array {
  const l = new Float64Array(D * D);
  for (let i = 0; i < D; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * D + j]!;
      for (let k = 0; k < j; k++) s -= l[i * D + k]! * l[j * D + k]!;
      if (i === j) {
        if (!(s > 0)) throw new RangeError(`fitLogistic: the Hessian is not positive definite at column ${i} (pivot ${s}): a feature may be constant or duplicated`);
        l[i * D + i] = Math.sqrt(s);
      } else l[i * D + j] = s / l[j * D + j]!;
    }
  }
  const y = new Float64Array(D), x = new Float64Array(D);
  for (let i = 0; i < D; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= l[i * D + k]! * y[k]!;
    y[i] = s / l[i * D + i]!;
  }
  for (let i = D - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < D; k++) s -= l[k * D + i]! * x[k]!;
    x[i] = s / l[i * D + i]!;
  }
  return x;
}

/** P(fraud) for every row of a table. */
export function logisticScores(m: LogisticModel, t: FeatureTable): Float64Array {
  const D = dimensionOf(m);
  const index = new Int32Array(D), value = new Float64Array(D);
  return Float64Array.from({ length: t.length }, (_, i) => {
    const n = rowOf(t, i, index, value);
    let z = 0;
    for (let a = 0; a < n; a++) z += m.weights[index[a]!]! * value[a]!;
    return 1 / (1 + Math.exp(-z));
  });
}

/** The gradient of L (Note [logistic regression]) at the model's weights: 0 at the optimum. */
export function logisticGradient(m: LogisticModel, t: FeatureTable, c = 1): Float64Array {
  const D = dimensionOf(m);
  const g = Float64Array.from(m.weights, (w, j) => (j < D - 1 ? w / c : 0));
  const p = logisticScores(m, t);
  const index = new Int32Array(D), value = new Float64Array(D);
  for (let i = 0; i < t.length; i++) {
    const n = rowOf(t, i, index, value);
    for (let a = 0; a < n; a++) g[index[a]!]! += (p[i]! - t.label[i]!) * value[a]!;
  }
  return g;
}
