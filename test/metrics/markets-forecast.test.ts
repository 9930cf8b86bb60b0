// The markets recipe's forecast measures on hand-worked numbers.
import assert from "node:assert/strict";
import { test } from "node:test";
import { directionAccuracy, meanAbsoluteError, rootMeanSquaredError } from "../../src/metrics/markets-forecast.js";

test("mean absolute and root mean squared error by hand", () => {
  // Errors -0.5, 1, 0, 2.5: |.| sums to 4, squares to 0.25 + 1 + 0 + 6.25 = 7.5.
  const forecast = [0.5, 2, 3, 4.5], truth = [1, 1, 3, 2];
  assert.equal(meanAbsoluteError(forecast, truth), 1);
  assert.equal(rootMeanSquaredError(forecast, truth), Math.sqrt(7.5 / 4));
  assert.equal(meanAbsoluteError(truth, truth), 0);
  assert.throws(() => meanAbsoluteError([1], [1, 2]), /1 forecasts for 2 outcomes/);
  assert.throws(() => rootMeanSquaredError([], []), /no outcomes to score/);
});

test("direction accuracy leaves flat days out of both counts", () => {
  // Calls: up, up, down, down, up; truth: up, down, flat, down, flat. Scored: 3, right: 2.
  assert.deepEqual(directionAccuracy([1, 1, 0, 0, 1], [1, 0, -100, 0, -100], -100), { accuracy: 2 / 3, scored: 3 });
  assert.deepEqual(directionAccuracy([1, 0], [-100, -100], -100), { accuracy: 0, scored: 0 });
});
