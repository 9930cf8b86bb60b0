// Turns a data set into batches: a sampler chooses the epoch's indices, the loader cuts them into
// batches, and a collate function builds each batch from its samples (applying augmentation with
// per-sample generators). Everything random derives from (seed, epoch, index), so a run replays
// exactly, and resuming mid-epoch (fromBatch) gives the batches the uninterrupted run would have.

import { Rng } from "../util/rng.js";
import type { Dataset } from "./dataset.js";
import { prefetch } from "./prefetch.js";
import { SequentialSampler, ShuffleSampler, type Sampler } from "./sampler.js";

/** Stream of the root Rng reserved for augmentation (shuffling uses SHUFFLE_STREAM). */
export const AUGMENT_STREAM = 1;

/** What a collate function knows about the batch it builds. */
export interface BatchContext {
  epoch: number;
  /** Position of this batch within the epoch. */
  batch: number;
  /** Data-set index of each sample, in batch order. */
  indices: Int32Array;
  /**
   * The generator for the sample at `position` in this batch, derived from (seed, epoch, data-set
   * index): a sample is augmented the same way whatever the batch size, order or number of ranks.
   */
  sampleRng(position: number): Rng;
}

/** Builds one batch from its samples. */
export type Collate<T, B> = (samples: readonly T[], context: BatchContext) => B;

export interface DataLoaderOptions<T, B> {
  batchSize: number;
  collate: Collate<T, B>;
  /** Visit samples in a new random order every epoch, from (seed, epoch). Not allowed with `sampler`. */
  shuffle?: boolean;
  /** Root seed for shuffling and augmentation (default 0). */
  seed?: number;
  /** Drop the last batch of an epoch when it has fewer than batchSize samples (default false). */
  dropLast?: boolean;
  /** Chooses each epoch's indices instead of shuffle / sequential order (e.g. a per-rank shard). */
  sampler?: Sampler;
}

/**
 * Batches a data set.
 *
 * @example Batches of a five-sample data set
 * ```ts
 * const numbers = { length: 5, get: (i: number) => i };
 * const loader = new DataLoader(numbers, { batchSize: 2, collate: (samples: readonly number[]) => [...samples] });
 * assert.deepEqual([...loader.batches(0)], [[0, 1], [2, 3], [4]]);
 * ```
 * docs/data.md has the MNIST version.
 */
export class DataLoader<T, B> {
  readonly batchSize: number;
  private readonly sampler: Sampler;
  private readonly collate: Collate<T, B>;
  private readonly dropLast: boolean;
  private readonly augmentRoot: Rng;

  constructor(private readonly dataset: Dataset<T>, options: DataLoaderOptions<T, B>) {
    const { batchSize, shuffle = false, seed = 0, dropLast = false, sampler } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`DataLoader batchSize must be a positive integer, got ${batchSize}`);
    }
    if (sampler !== undefined && shuffle) {
      throw new RangeError("DataLoader takes either shuffle or a sampler, not both: the sampler decides the order");
    }
    this.batchSize = batchSize;
    this.collate = options.collate;
    this.dropLast = dropLast;
    this.sampler = sampler ?? (shuffle ? new ShuffleSampler(dataset.length, seed) : new SequentialSampler(dataset.length));
    this.augmentRoot = new Rng(seed).fork(AUGMENT_STREAM);
  }

  /** Number of batches in one epoch. */
  get batchesPerEpoch(): number {
    const samples = this.sampler.length;
    return this.dropLast ? Math.floor(samples / this.batchSize) : Math.ceil(samples / this.batchSize);
  }

  /** The batches of `epoch`, built on demand; `fromBatch` skips the first ones (resuming mid-epoch). */
  *batches(epoch: number, fromBatch = 0): Generator<B, void, undefined> {
    const epochRng = this.augmentRoot.fork(epoch);
    let batch = 0;
    for (const indices of this.indexBatches(epoch)) {
      if (batch >= fromBatch) {
        const samples = Array.from(indices, (i) => this.dataset.get(i));
        const context: BatchContext = { epoch, batch, indices, sampleRng: (position) => epochRng.fork(indices[position]) };
        yield this.collate(samples, context);
      }
      batch++;
    }
  }

  /** Like batches(), with the next batch prepared ahead (Note [prefetch on one thread]). */
  epoch(epoch: number, fromBatch = 0): AsyncGenerator<B, void, undefined> {
    return prefetch(this.batches(epoch, fromBatch));
  }

  /** The epoch's indices cut into batches (checked against the data set's size). */
  private *indexBatches(epoch: number): Generator<Int32Array, void, undefined> {
    const size = this.dataset.length;
    let pending = new Int32Array(this.batchSize);
    let filled = 0;
    for (const index of this.sampler.indices(epoch)) {
      if (!Number.isInteger(index) || index < 0 || index >= size) {
        throw new RangeError(`the sampler yielded index ${index} for a data set of ${size} samples: fix the sampler's length`);
      }
      pending[filled++] = index;
      if (filled === this.batchSize) {
        yield pending;
        pending = new Int32Array(this.batchSize);
        filled = 0;
      }
    }
    if (filled > 0 && !this.dropLast) yield pending.subarray(0, filled);
  }
}
