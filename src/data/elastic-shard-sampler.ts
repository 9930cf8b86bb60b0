// One rank's share of what is left of an epoch, for a job whose number of workers may change
// mid-epoch (elastic training). All ranks slice the same seeded permutation (epochPermutation);
// positions [from, size) of it are dealt round-robin among the current `worldSize` ranks, so rank
// r takes positions from + r, from + r + W, ... and the tail is padded by wrapping around to the
// start of the permutation, as DistributedSampler pads.
//
// Note [an epoch is a range of permutation positions]
// Step j after `from` consumes positions [from + j·b·W, from + (j+1)·b·W) of the permutation
// (fewer in the last step), whichever rank trains on which. So the loop keeps one number per
// epoch, how many positions are consumed, and when the workers change it re-deals the rest of
// the range among the new ones: no sample of the epoch is skipped or seen twice (beyond the
// padding), whatever the number of workers before and after. With from = 0 and a fixed world
// size this is exactly DistributedSampler's shard, so an elastic run without faults trains on
// the same batches as a fixed one.
import { epochPermutation, type Sampler } from "./sampler.js";
import { DataLoader, type Collate } from "./data-loader.js";
import type { Dataset } from "./dataset.js";

export interface ElasticShardOptions {
  rank: number;
  worldSize: number;
  /** Permutation positions already consumed this epoch (0 <= from < size). */
  from: number;
  seed: number;
}

export class ElasticShardSampler implements Sampler {
  /** Samples this rank visits in the rest of the epoch. */
  readonly length: number;

  constructor(private readonly size: number, private readonly o: ElasticShardOptions) {
    if (!(Number.isInteger(o.rank) && o.rank >= 0 && o.rank < o.worldSize)) throw new RangeError(`ElasticShardSampler: rank ${o.rank} is not in [0, ${o.worldSize})`);
    if (!(Number.isInteger(o.from) && o.from >= 0 && o.from < size)) throw new RangeError(`ElasticShardSampler: position ${o.from} is not in [0, ${size})`);
    this.length = Math.ceil((size - o.from) / o.worldSize);
  }

  *indices(epoch: number): Iterable<number> {
    const order = epochPermutation(this.size, this.o.seed, epoch);
    for (let k = 0; k < this.length; k++) yield order[(this.o.from + this.o.rank + k * this.o.worldSize) % this.size]!;
  }
}

/**
 * Permutation positions that step `j` (counting from 0 at `from`) consumes across all ranks:
 * b·W, or what is left in the last step (Note [an epoch is a range of permutation positions]).
 */
export function positionsConsumed(size: number, from: number, worldSize: number, batchSize: number, j: number): number {
  const perRank = Math.ceil((size - from) / worldSize);
  return Math.max(0, Math.min(batchSize, perRank - j * batchSize)) * worldSize;
}

/**
 * An elastic run's data: for any epoch, position and world size, one rank's batches of what is
 * left of the epoch, built by a DataLoader over an ElasticShardSampler (augmentation depends on
 * (seed, epoch, sample) alone, so a sample looks the same whichever rank trains on it).
 */
export function elasticShards<T, B>(dataset: Dataset<T>, o: { batchSize: number; collate: Collate<T, B>; seed: number }) {
  return {
    samplesPerEpoch: dataset.length,
    batchSize: o.batchSize,
    shard(epoch: number, fromSample: number, rank: number, worldSize: number): AsyncGenerator<B, void, undefined> {
      const sampler = new ElasticShardSampler(dataset.length, { rank, worldSize, from: fromSample, seed: o.seed });
      return new DataLoader(dataset, { batchSize: o.batchSize, collate: o.collate, seed: o.seed, sampler }).epoch(epoch);
    },
  };
}
