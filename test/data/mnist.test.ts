// The fixed MNIST split (Note [MNIST split] in src/data/mnist.ts).

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { test } from "node:test";
import {
  loadMnist,
  MNIST_CLASSES,
  MNIST_PIXELS,
  MNIST_TRAIN_MEAN,
  MNIST_TRAIN_STD,
} from "../../src/data/mnist.js";

const mnist = loadMnist();

/** Digits per class straight from the package files, read here independently of the loader. */
const packageDir = dirname(createRequire(import.meta.url).resolve("mnist/package.json"));
const digits = Array.from({ length: MNIST_CLASSES }, (_, d) =>
  (JSON.parse(readFileSync(join(packageDir, "src", "digits", `${d}.json`), "utf8")) as { data: number[] }).data,
);

test("the split is exactly 8000 train and 2000 test digits with no digit in both", () => {
  assert.equal(mnist.train.length, 8000);
  assert.equal(mnist.test.length, 2000);
  assert.equal(mnist.train.images.length, 8000 * MNIST_PIXELS);
  assert.equal(mnist.test.images.length, 2000 * MNIST_PIXELS);
  const all = [...mnist.train.sourceIndices, ...mnist.test.sourceIndices].sort((a, b) => a - b);
  assert.deepEqual(all, Array.from({ length: 10000 }, (_, i) => i));
});

test("images and labels are the package's digits, values in [0, 1]", () => {
  const classStart: number[] = [];
  digits.reduce((start, data, d) => ((classStart[d] = start), start + data.length / MNIST_PIXELS), 0);
  for (const split of [mnist.train, mnist.test]) {
    for (const i of [0, 1, 777, split.length - 1]) {
      const source = split.sourceIndices[i];
      let label = 0;
      while (label + 1 < MNIST_CLASSES && classStart[label + 1] <= source) label++;
      assert.equal(split.labels[i], label);
      const offset = (source - classStart[label]) * MNIST_PIXELS;
      const expected = Float32Array.from(digits[label].slice(offset, offset + MNIST_PIXELS));
      assert.deepEqual(split.get(i).x, expected);
      assert.equal(split.get(i).y, label);
    }
    let min = Infinity;
    let max = -Infinity;
    for (const v of split.images) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    assert.ok(min >= 0 && max <= 1, `values in [${min}, ${max}]`);
  }
});

test("every class is split 80 / 20 to within one digit, and classes are interleaved", () => {
  for (let c = 0; c < MNIST_CLASSES; c++) {
    const total = digits[c].length / MNIST_PIXELS;
    const inTest = mnist.test.labels.filter((l) => l === c).length;
    const inTrain = mnist.train.labels.filter((l) => l === c).length;
    assert.equal(inTest + inTrain, total);
    assert.ok(Math.abs(inTest - total * 0.2) < 1, `class ${c}: ${inTest} of ${total} in test`);
  }
  assert.equal(new Set(mnist.train.labels.subarray(0, 100)).size, 10);
  assert.equal(new Set(mnist.test.labels.subarray(0, 100)).size, 10);
});

test("the split is the same on every run and machine (pinned digest) and loading is cached", () => {
  const digest = createHash("sha256")
    .update(new Uint8Array(mnist.train.sourceIndices.buffer))
    .update(new Uint8Array(mnist.test.sourceIndices.buffer))
    .digest("hex");
  // Changing this digest changes every accuracy ever reported on this split: don't, unless on purpose.
  assert.equal(digest, "83a8a3b22645e69783c7f7a78e24415c42250fd3db8f641edea5e783aa1578c1");
  assert.equal(loadMnist(), mnist);
});

test("the exported normalization constants are the train split's pixel mean and standard deviation", () => {
  const pixels = mnist.train.images;
  let sum = 0;
  for (const v of pixels) sum += v;
  const mean = sum / pixels.length;
  let squares = 0;
  for (const v of pixels) squares += (v - mean) ** 2;
  const std = Math.sqrt(squares / pixels.length);
  assert.ok(Math.abs(mean - MNIST_TRAIN_MEAN) < 1e-5, `mean ${mean}`);
  assert.ok(Math.abs(std - MNIST_TRAIN_STD) < 1e-5, `std ${std}`);
});
