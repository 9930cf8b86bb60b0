// The usual collate for classification: stack samples of one shape into a float32 batch and their
// labels into an int32 vector, augmenting and normalizing on the way.

import { checkSplit } from "../nn/layer-stack.js";
import type { Rng } from "../util/rng.js";
import type { BatchContext, Collate } from "./data-loader.js";

/** One input with its class label. `x` may be a view into a larger array: it is never written. */
export interface LabeledSample {
  x: Float32Array;
  y: number;
}

/** A stacked batch: x is (batch, ...sampleShape) row-major, y holds the labels. */
export interface LabeledBatch {
  x: Float32Array;
  xShape: number[];
  y: Int32Array;
  /** Data-set index of each sample (for debugging and for checks that every sample was seen). */
  indices: Int32Array;
}

/**
 * Per-sample augmentation: write the augmented `source` into `target` (same length, a slot of the
 * batch) using `rng`. Writing into the batch directly avoids an allocation per sample.
 */
export type Augment = (source: Float32Array, target: Float32Array, rng: Rng) => void;

export interface LabeledCollateOptions {
  /** Shape of one sample, e.g. [1, 28, 28]. */
  sampleShape: number[];
  augment?: Augment;
  /** Applied after augmentation, so augmentation's zero fill is raw zero (background), not the mean. */
  normalize?: { mean: number; std: number };
}

/**
 * A collate function for labeled samples of shape `sampleShape`.
 *
 * @example
 * ```ts
 * const samples = [{ x: new Float32Array([1, 2]), y: 3 }, { x: new Float32Array([4, 5]), y: 6 }];
 * const loader = new DataLoader({ length: 2, get: (i: number) => samples[i] }, { batchSize: 2, collate: collateLabeled({ sampleShape: [2] }) });
 * const [batch] = [...loader.batches(0)];
 * assert.deepEqual(batch.xShape, [2, 2]);
 * assert.deepEqual(batch.y, new Int32Array([3, 6]));
 * ```
 */
export function collateLabeled(options: LabeledCollateOptions): Collate<LabeledSample, LabeledBatch> {
  const { sampleShape, augment, normalize } = options;
  const sampleSize = sampleShape.reduce((a, b) => a * b, 1);
  return (samples: readonly LabeledSample[], context: BatchContext): LabeledBatch => {
    const x = new Float32Array(samples.length * sampleSize);
    const y = new Int32Array(samples.length);
    samples.forEach((sample, k) => {
      if (sample.x.length !== sampleSize) {
        throw new RangeError(
          `sample ${context.indices[k]} has ${sample.x.length} values, expected ${sampleSize} for shape [${sampleShape.join(", ")}]`,
        );
      }
      const slot = x.subarray(k * sampleSize, (k + 1) * sampleSize);
      if (augment) augment(sample.x, slot, context.sampleRng(k));
      else slot.set(sample.x);
      y[k] = sample.y;
    });
    if (normalize) {
      const scale = 1 / normalize.std;
      for (let i = 0; i < x.length; i++) x[i] = (x[i] - normalize.mean) * scale;
    }
    return { x, xShape: [samples.length, ...sampleShape], y, indices: context.indices.slice() };
  };
}

/** Cuts a labeled batch into `parts` consecutive micro-batches of equal size (views, no copies). */
export function splitLabeled(batch: LabeledBatch, parts: number): LabeledBatch[] {
  const n = batch.y.length;
  const m = checkSplit(n, parts);
  const per = batch.x.length / n;
  return Array.from({ length: parts }, (_, k) => ({
    x: batch.x.subarray(k * m * per, (k + 1) * m * per),
    xShape: [m, ...batch.xShape.slice(1)],
    y: batch.y.subarray(k * m, (k + 1) * m),
    indices: batch.indices.subarray(k * m, (k + 1) * m),
  }));
}
