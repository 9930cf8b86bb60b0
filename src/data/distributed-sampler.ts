// Each rank's share of an epoch, like torch.utils.data.DistributedSampler: all ranks take the same
// seeded permutation (epochPermutation), pad it by wrapping around to a multiple of the world size
// (or drop the tail, when asked), and rank r takes every worldSize-th index starting at r. So in
// an epoch no sample is seen twice (except the wrap-around padding) and none is dropped unless
// dropLast says so.
import { epochPermutation, type Sampler } from "./sampler.js";

export interface DistributedSamplerOptions {
  rank: number;
  worldSize: number;
  seed?: number;
  shuffle?: boolean;
  /** Drop the tail that does not divide evenly instead of padding with repeated samples. */
  dropLast?: boolean;
}

export class DistributedSampler implements Sampler {
  readonly length: number;
  private readonly total: number;

  constructor(private readonly size: number, private readonly o: DistributedSamplerOptions) {
    if (!(Number.isInteger(o.rank) && o.rank >= 0 && o.rank < o.worldSize)) {
      throw new RangeError(`DistributedSampler: rank ${o.rank} is not in [0, ${o.worldSize})`);
    }
    this.length = o.dropLast ? Math.floor(size / o.worldSize) : Math.ceil(size / o.worldSize);
    this.total = this.length * o.worldSize;
  }

  *indices(epoch: number): Iterable<number> {
    const order = this.o.shuffle === false ? null : epochPermutation(this.size, this.o.seed ?? 0, epoch);
    for (let i = this.o.rank; i < this.total; i += this.o.worldSize) {
      const k = i % this.size;
      yield order ? order[k]! : k;
    }
  }
}
