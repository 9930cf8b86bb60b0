// Forecast-quality measures for the markets recipe on plain arrays: the mean absolute and root
// mean squared error of a volatility forecast, and the accuracy of up/down calls with the days
// that have no direction left out.

function checkLengths(op: string, predicted: ArrayLike<number>, truth: ArrayLike<number>): void {
  if (predicted.length !== truth.length) {
    throw new Error(`${op}: ${predicted.length} forecasts for ${truth.length} outcomes; pass one forecast per outcome`);
  }
  if (truth.length === 0) throw new Error(`${op}: no outcomes to score; pass at least one`);
}

/**
 * The mean of |predicted - truth|.
 *
 * @example
 * ```ts
 * assert.equal(meanAbsoluteError([1, 2, 4], [2, 2, 1]), 4 / 3);
 * ```
 */
export function meanAbsoluteError(predicted: ArrayLike<number>, truth: ArrayLike<number>): number {
  checkLengths("meanAbsoluteError", predicted, truth);
  let sum = 0;
  for (let i = 0; i < truth.length; i++) sum += Math.abs(predicted[i]! - truth[i]!);
  return sum / truth.length;
}

/**
 * The square root of the mean of (predicted - truth)^2.
 *
 * @example
 * ```ts
 * assert.equal(rootMeanSquaredError([1, 2, 4], [2, 2, 1]), Math.sqrt(10 / 3));
 * ```
 */
export function rootMeanSquaredError(predicted: ArrayLike<number>, truth: ArrayLike<number>): number {
  checkLengths("rootMeanSquaredError", predicted, truth);
  let sum = 0;
  for (let i = 0; i < truth.length; i++) sum += (predicted[i]! - truth[i]!) ** 2;
  return Math.sqrt(sum / truth.length);
}

/**
 * The share of up/down calls that were right: `called[i]` and `truth[i]` are 1 (up) or 0 (down);
 * an outcome equal to `skip` (a day with no direction) is left out of both counts. Returns the
 * accuracy and how many calls were scored.
 *
 * @example A flat day (-100) is not scored
 * ```ts
 * assert.deepEqual(directionAccuracy([1, 0, 1, 1], [1, 1, -100, 1], -100), { accuracy: 2 / 3, scored: 3 });
 * ```
 */
export function directionAccuracy(called: ArrayLike<number>, truth: ArrayLike<number>, skip: number): { accuracy: number; scored: number } {
  checkLengths("directionAccuracy", called, truth);
  let right = 0, scored = 0;
  for (let i = 0; i < truth.length; i++) {
    if (truth[i] === skip) continue;
    scored++;
    if (called[i] === truth[i]) right++;
  }
  return { accuracy: scored === 0 ? 0 : right / scored, scored };
}
