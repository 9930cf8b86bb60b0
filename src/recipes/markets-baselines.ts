// The forecasts the markets recipe's model is held against, computed from returns alone
// (Note [markets split]: each uses the returns up to its origin t and nothing later).
//
//   persistence        |r[t]|: tomorrow as stormy as today.
//   moving average     the mean of |r| over the last `days` returns (20: about a trading month).
//   HAR                Corsi's heterogeneous autoregression on absolute returns: an intercept and
//                      the 1-, 5- and 20-day means of |r|, weights fitted per index by least
//                      squares on the training targets only. Not part of the bar; the standard
//                      econometric yardstick, reported so the comparison is not only with the
//                      naive forecasts.

/** |r[t]| of series k: returns (N, S) row-major. */
export function persistenceForecast(returns: Float64Array, series: number, t: number, k: number): number {
  return Math.abs(returns[t * series + k]!);
}

/**
 * The mean of |r| over r[t - days + 1 .. t] of series k.
 *
 * @example
 * ```ts
 * assert.equal(movingAverageForecast(Float64Array.of(0.01, -0.03, 0.02), 1, 2, 0, 2), 0.025);
 * ```
 */
export function movingAverageForecast(returns: Float64Array, series: number, t: number, k: number, days: number): number {
  if (t - days + 1 < 0) throw new RangeError(`movingAverageForecast: origin ${t} has only ${t + 1} returns before it, fewer than ${days}`);
  let sum = 0;
  for (let j = t - days + 1; j <= t; j++) sum += Math.abs(returns[j * series + k]!);
  return sum / days;
}

/** The HAR regressors at origin t: 1, |r[t]|, the 5-day and the 20-day mean of |r|. */
function harFeatures(returns: Float64Array, series: number, t: number, k: number): number[] {
  return [1, persistenceForecast(returns, series, t, k), movingAverageForecast(returns, series, t, k, 5), movingAverageForecast(returns, series, t, k, 20)];
}

/**
 * x solving a x = b for a small dense system (Gaussian elimination with partial pivoting).
 *
 * @example
 * ```ts
 * assert.deepEqual(solveLinear([[1, 1], [1, -1]], [3, 1]), [2, 1]);
 * ```
 */
export function solveLinear(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[pivot]![c]!)) pivot = r;
    if (Math.abs(m[pivot]![c]!) < 1e-300) throw new RangeError(`solveLinear: the system is singular at column ${c}: the regressors are collinear`);
    [m[c], m[pivot]] = [m[pivot]!, m[c]!];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r]![c]! / m[c]![c]!;
      for (let j = c; j <= n; j++) m[r]![j]! -= f * m[c]![j]!;
    }
  }
  return m.map((row, i) => row[n]! / row[i]!);
}

/**
 * A HAR model per series, fitted by least squares on the targets j in [firstTarget, endTarget)
 * (origin j - 1, which needs 20 returns before it: firstTarget >= 20).
 *
 * In-sample it is never worse in squared error than the 20-day moving average, which is the
 * HAR forecast with weights (0, 0, 0, 1) (test/recipes/markets.test.ts checks it).
 */
export function fitHar(returns: Float64Array, series: number, firstTarget: number, endTarget: number): { weights: number[][]; forecast(returns: Float64Array, t: number, k: number): number } {
  if (firstTarget < 20) throw new RangeError(`fitHar: the first target ${firstTarget} has fewer than 20 returns before its origin`);
  const weights: number[][] = [];
  for (let k = 0; k < series; k++) {
    const xtx = [0, 1, 2, 3].map(() => [0, 0, 0, 0]);
    const xty = [0, 0, 0, 0];
    for (let j = firstTarget; j < endTarget; j++) {
      const f = harFeatures(returns, series, j - 1, k);
      const y = Math.abs(returns[j * series + k]!);
      for (let a = 0; a < 4; a++) {
        xty[a]! += f[a]! * y;
        for (let b = 0; b < 4; b++) xtx[a]![b]! += f[a]! * f[b]!;
      }
    }
    weights.push(solveLinear(xtx, xty));
  }
  return {
    weights,
    forecast: (r, t, k) => harFeatures(r, series, t, k).reduce((sum, f, a) => sum + f * weights[k]![a]!, 0),
  };
}
