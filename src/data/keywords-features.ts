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
// every world size sees the same augmented clip:
// (1) speed: the window is resampled about its centre by a factor r drawn uniformly from
//     [1 - speed, 1 + speed] (linear interpolation; r > 1 is faster), which shortens or stretches
//     the word and raises or lowers its pitch and formants together, as a shorter or longer vocal
//     tract would (Kaldi's speed perturbation), and shifts it by up to `shiftSamples` either way
//     in the same pass (a recorder does not start exactly on the word); outside the clip is 0;
// (2) noise: with probability `noiseProbability`, white or pink (even odds) at an SNR drawn
//     uniformly from `snrDb` (Note [noise at an SNR]); the test's noise comes from other seeds;
// (3) masks (SpecAugment): after the features are made, `freqMasks` runs of up to
//     `freqMaskWidth` bands and `timeMasks` runs of up to `timeMaskWidth` frames, each of a
//     uniform width from 0, at uniform places, are set to 0, the clip's mean.
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
 * A window's features (Note [keyword features]), written into `out` when given. Pass one LogMel
 * for many clips: it holds the FFT tables and filters.
 *
 * @example A tone's features are standardised
 * ```ts
 * const tone = Float32Array.from({ length: 16000 }, (_, n) => 0.5 * Math.sin(2 * Math.PI * 1000 * n / 16000));
 * const f = keywordFeatures(tone);
 * assert.equal(f.length, 40 * 98);
 * const mean = f.reduce((a, b) => a + b, 0) / f.length;
 * assert.ok(Math.abs(mean) < 1e-5);
 * ```
 */
export function keywordFeatures(window: Float32Array, logMel: LogMel = new LogMel(), out?: Float32Array): Float32Array {
  return standardize(logMel.compute(window, out));
}

/**
 * Resamples `source` about its centre by `rate` and delays it by `by` samples into `target`:
 * target[n] = source(c + (n - c - by) rate), c the centre, linearly interpolated, 0 outside.
 *
 * @example Rate 1 is a plain shift; rate 2 squeezes the clip around its centre
 * ```ts
 * const x = Float32Array.of(0, 1, 2, 3, 4);
 * assert.deepEqual([...resampleInto(x, 1, 1, new Float32Array(5))], [0, 0, 1, 2, 3]);
 * assert.deepEqual([...resampleInto(x, 2, 0, new Float32Array(5))], [0, 0, 2, 4, 0]);
 * ```
 */
export function resampleInto(source: Float32Array, rate: number, by: number, target: Float32Array): Float32Array {
  const n = source.length, c = (n - 1) / 2;
  for (let i = 0; i < target.length; i++) {
    const p = c + (i - c - by) * rate;
    const j = Math.floor(p);
    if (j < 0 || j > n - 1) { target[i] = 0; continue; }
    const frac = p - j;
    target[i] = frac === 0 ? source[j]! : j + 1 < n ? source[j]! * (1 - frac) + source[j + 1]! * frac : 0;
  }
  return target;
}

export interface KeywordAugmentation {
  /** Largest shift either way, in samples. */
  shiftSamples: number;
  /** Largest relative change of speed, e.g. 0.15 for [0.85, 1.15]. */
  speed: number;
  /** Chance that a training window gets noise. */
  noiseProbability: number;
  /** SNR range of that noise, dB. */
  snrDb: readonly [number, number];
  freqMasks: number;
  freqMaskWidth: number;
  timeMasks: number;
  timeMaskWidth: number;
}

/** Augments one window's samples (Note [keyword augmentation], steps 1 and 2) into `target`. */
export function augmentKeyword(sample: KeywordSample, a: KeywordAugmentation, rng: Rng, target: Float32Array): Float32Array {
  const by = a.shiftSamples > 0 ? rng.int(2 * a.shiftSamples + 1) - a.shiftSamples : 0;
  const rate = 1 + a.speed * (2 * rng.next() - 1);
  resampleInto(sample.x, rate, by, target);
  if (rng.next() < a.noiseProbability) {
    const color: NoiseColor = rng.next() < 0.5 ? "white" : "pink";
    const snr = a.snrDb[0] + (a.snrDb[1] - a.snrDb[0]) * rng.next();
    mixNoise(target, sample.speechPower, snr, color, rng, target);
  }
  return target;
}

/** Masks runs of bands and frames of features (bands, frames) in place (Note [keyword augmentation], step 3). */
export function maskFeatures(f: Float32Array, bands: number, frames: number, a: KeywordAugmentation, rng: Rng): Float32Array {
  for (let m = 0; m < a.freqMasks; m++) {
    const width = rng.int(a.freqMaskWidth + 1), start = rng.int(bands - width + 1);
    f.fill(0, start * frames, (start + width) * frames);
  }
  for (let m = 0; m < a.timeMasks; m++) {
    const width = rng.int(a.timeMaskWidth + 1), start = rng.int(frames - width + 1);
    for (let b = 0; b < bands; b++) f.fill(0, b * frames + start, b * frames + start + width);
  }
  return f;
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
      const rng = o.augment ? context.sampleRng(k) : undefined;
      const window = o.augment ? augmentKeyword(s, o.augment, rng!, scratch) : s.x;
      const f = keywordFeatures(window, logMel, x.subarray(k * size, (k + 1) * size));
      if (o.augment) maskFeatures(f, logMel.config.bands, frames, o.augment, rng!);
      y[k] = s.y;
    });
    return { x, xShape: [samples.length, logMel.config.bands, frames], y, indices: context.indices.slice() };
  };
}
