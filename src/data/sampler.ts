// Samplers decide which data-set indices an epoch visits and in what order. The loader asks a
// sampler for an epoch's indices and batches them; a distributed sampler (one shard per rank)
// plugs in through the same interface.

import { Rng } from "../util/rng.js";

/** The indices one epoch visits, in order. `length` (samples per epoch) lets the loader count batches. */
export interface Sampler {
  indices(epoch: number): Iterable<number>;
  readonly length: number;
}

/** Stream of the root Rng reserved for shuffling (augmentation uses another; see data-loader.ts). */
export const SHUFFLE_STREAM = 0;

/**
 * The permutation of 0..size-1 that shuffling uses for (seed, epoch): a fresh order every epoch,
 * the same on every machine and every run. A distributed sampler should slice THIS permutation, so
 * that all ranks agree on it.
 *
 * @example
 * ```ts
 * assert.deepEqual(epochPermutation(10, 1, 0), epochPermutation(10, 1, 0));
 * assert.notDeepEqual(epochPermutation(10, 1, 0), epochPermutation(10, 1, 1));
 * ```
 */
export function epochPermutation(size: number, seed: number, epoch: number): Int32Array {
  const order = new Int32Array(size);
  for (let i = 0; i < size; i++) order[i] = i;
  return new Rng(seed).fork(SHUFFLE_STREAM).fork(epoch).shuffle(order);
}

/** Visits 0, 1, ..., size-1 every epoch. */
export class SequentialSampler implements Sampler {
  constructor(readonly length: number) {}

  *indices(): Iterable<number> {
    for (let i = 0; i < this.length; i++) yield i;
  }
}

/** Visits every index once per epoch in the order epochPermutation(length, seed, epoch). */
export class ShuffleSampler implements Sampler {
  constructor(readonly length: number, private readonly seed: number) {}

  indices(epoch: number): Iterable<number> {
    return epochPermutation(this.length, this.seed, epoch);
  }
}
