// The data-set contract: a length and random access by index. Everything above it (samplers,
// the loader, distributed sharding) works with indices only, so a data set never needs to know
// about batching, shuffling or ranks.

/** A finite, indexable collection of samples. `get(i)` for 0 <= i < length; it must not mutate shared state. */
export interface Dataset<T> {
  readonly length: number;
  get(index: number): T;
}
