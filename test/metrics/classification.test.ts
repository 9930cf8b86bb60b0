// Classification metrics against counts worked out by hand.
import assert from "node:assert/strict";
import { test } from "node:test";
import { accuracy, classScores, confusionMatrix, macroF1 } from "../../src/metrics/classification.js";

// truth:     0 0 0 1 1 2 2 2 2 1
// predicted: 0 1 0 1 2 2 2 0 2 1
// class 0: tp 2, predicted 0 three times (samples 0, 2, 7), actual 3 -> P 2/3, R 2/3
// class 1: tp 2, predicted 1 three times (1, 3, 9), actual 3 -> P 2/3, R 2/3
// class 2: tp 3, predicted 2 four times (4, 5, 6, 8), actual 4 -> P 3/4, R 3/4
const truth = [0, 0, 0, 1, 1, 2, 2, 2, 2, 1];
const predicted = [0, 1, 0, 1, 2, 2, 2, 0, 2, 1];

test("the confusion matrix counts each (true, predicted) pair", () => {
  const m = confusionMatrix(truth, predicted, 3);
  assert.deepEqual([...m.counts], [2, 1, 0, 0, 2, 1, 1, 0, 3]);
  assert.equal(accuracy(m), 7 / 10);
});

test("precision, recall and F1 per class, and their macro mean", () => {
  const m = confusionMatrix(truth, predicted, 3);
  const two = classScores(m, 2);
  assert.equal(two.precision, 3 / 4);
  assert.equal(two.recall, 3 / 4);
  assert.ok(Math.abs(two.f1 - 0.75) < 1e-15);
  assert.equal(two.support, 4);
  assert.ok(Math.abs(macroF1(m) - (2 / 3 + 2 / 3 + 3 / 4) / 3) < 1e-15);
});

test("a class never predicted has precision 0, not NaN; bad labels are refused by sample", () => {
  const m = confusionMatrix([1, 1, 0], [0, 0, 0], 2);
  assert.deepEqual(classScores(m, 1), { precision: 0, recall: 0, f1: 0, support: 2 });
  assert.throws(() => confusionMatrix([0, 3], [0, 0], 2), /sample 1 has true label 3/);
  assert.throws(() => confusionMatrix([0], [0, 1], 2), /1 true labels but 2 predictions/);
});
