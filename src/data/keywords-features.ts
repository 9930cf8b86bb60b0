// From one-second keyword windows (data/keywords.ts) to the batches the keyword CNN reads: each
// window is augmented (for training), turned into a log-mel spectrogram (data/log-mel.ts) and
// normalised, and the spectrograms are stacked as (batch, bands, frames).
//
// Note [keyword features]
// A window's features are its log-mel spectrogram F[b, t] (Note [log-mel]: 40 bands x 98 frames
// for one second), standardised per clip: minus the mean of all its values, over their standard
// deviation. Per-clip statistics, unlike a norm layer's running ones, are the same on every rank
// and every batch, so data-parallel replicas stay bitwise equal and a clip's features do not
// depend on the batch it is in; and they take out what level and noise floor add uniformly.
//
// Note [keyword augmentation]
// Training windows are changed, per sample and seeded by the loader (epoch, sample index), so
// every world size sees the same augmented clip: (1) a time shift of up to `shiftSamples` either
// way, zero-filled (a recorder does not start exactly on the word); (2) with probability
// `noiseProbability`, noise of a random colour (white or pink, even odds) at an SNR drawn
// uniformly from `snrDb` (Note [noise at an SNR]); the test's noise is drawn from other seeds.
import type { LabeledBatch } from "./collate-labeled.js";
import type { BatchContext, Collate } from "./data-loader.js";
import { mixNoise, type NoiseColor } from "./keywords.js";
import { LogMel, type LogMelOptions } from "./log-mel.js";
import type { Rng } from "../util/rng.js";

/** A keyword sample: a window, its label and its word's mean square (Note [noise at an SNR]). */
export interface KeywordSample {
  x: Float32Array;
  y: number;
  speechPower: number;
}

/** Standardises `f` in place to mean 0 and standard deviation 1 (Note [keyword features]). */
export function standardize(f: Float32Array): Float32Array {
  let mean = 0;
  for (const v of f) mean += v;
  mean /= f.length;
  let variance = 0;
  for (const v of f) variance += (v - mean) * (v - mean);
  const scale = 1 / Math.sqrt(variance / f.length + 1e-8);
  for (let i = 0; i < f.length; i++) f[i] = (f[i]! - mean) * scale;
  return f;
}

/**
 * A window's features (Note [keyword features]), written into `out` when given.
 *
 * @example A tone's features are standardised
 * ```ts
 * const logMel = new LogMel();
 * const tone = Float32Array.from({ length: 16000 }, (_, n) => 0.5 * Math.sin(2 * Math.PI * 1000 * n / 16000));
 * const f = keywordFeatures(tone, logMel);
 * const mean = f.reduce((a, b) => a + b, 0) / f.length;
 * assert.ok(Math.abs(mean) < 1e-5);
 * ```
 */
export function keywordFeatures(window: Float32Array, logMel: LogMel, out?: Float32Array): Float32Array {
  return standardize(logMel.compute(window, out));
}

/** Shifts `source` by `by` samples (later when positive) into `target`, zero-filled. */
export function shiftInto(source: Float32Array, by: number, target: Float32Array): Float32Array {
  const n = source.length;
  target.fill(0);
  if (by >= 0) target.set(source.subarray(0, Math.max(0, n - by)), Math.min(n, by));
  else target.set(source.subarray(Math.min(n, -by)), 0);
  return target;
}

export interface KeywordAugmentation {
  /** Largest shift either way, in samples. */
  shiftSamples: number;
  /** Chance that a training window gets noise. */
  noiseProbability: number;
  /** SNR range of that noise, dB. */
  snrDb: readonly [number, number];
}

/** Augments one window (Note [keyword augmentation]) into `target`. */
export function augmentKeyword(sample: KeywordSample, a: KeywordAugmentation, rng: Rng, target: Float32Array): Float32Array {
  const by = a.shiftSamples > 0 ? rng.int(2 * a.shiftSamples + 1) - a.shiftSamples : 0;
  shiftInto(sample.x, by, target);
  if (rng.next() < a.noiseProbability) {
    const color: NoiseColor = rng.next() < 0.5 ? "white" : "pink";
    const snr = a.snrDb[0] + (a.snrDb[1] - a.snrDb[0]) * rng.next();
    mixNoise(target, sample.speechPower, snr, color, rng, target);
  }
  return target;
}

export interface KeywordCollateOptions {
  logMel?: LogMelOptions;
  /** Augments training windows; absent for evaluation. */
  augment?: KeywordAugmentation;
}

/**
 * Stacks keyword samples into a LabeledBatch of features, x of shape (batch, bands, frames).
 *
 * @example
 * ```ts
 * const collate = collateKeywords();
 * const sample = { x: new Float32Array(16000).fill(0.1), y: 4, speechPower: 0.01 };
 * const b = collate([sample, sample], { epoch: 0, batch: 0, indices: Int32Array.of(0, 1), sampleRng: () => { throw new Error("no rng without augmentation"); } });
 * assert.deepEqual(b.xShape, [2, 40, 98]);
 * assert.deepEqual([...b.y], [4, 4]);
 * ```
 */
export function collateKeywords(o: KeywordCollateOptions = {}): Collate<KeywordSample, LabeledBatch> {
  const logMel = new LogMel(o.logMel);
  let scratch = new Float32Array(0);
  return (samples: readonly KeywordSample[], context: BatchContext): LabeledBatch => {
    const length = samples[0]!.x.length;
    const frames = logMel.frames(length);
    const size = logMel.config.bands * frames;
    const x = new Float32Array(samples.length * size);
    const y = new Int32Array(samples.length);
    if (scratch.length !== length) scratch = new Float32Array(length);
    samples.forEach((s, k) => {
      if (s.x.length !== length) throw new RangeError(`collateKeywords: sample ${context.indices[k]} has ${s.x.length} samples, sample ${context.indices[0]} has ${length}: windows must be one length`);
      const window = o.augment ? augmentKeyword(s, o.augment, context.sampleRng(k), scratch) : s.x;
      keywordFeatures(window, logMel, x.subarray(k * size, (k + 1) * size));
      y[k] = s.y;
    });
    return { x, xShape: [samples.length, logMel.config.bands, frames], y, indices: context.indices.slice() };
  };
}
