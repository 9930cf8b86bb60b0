// The median the benchmarks report: of step times (options.ts) and of all-reduce times
// (allreduce-worker.ts). A module of its own so that the all-reduce worker, which must not load a
// compute backend, can share it with the model benchmarks.

/**
 * The middle value of `values` (the mean of the two middle ones for an even count), leaving
 * `values` as it was. The median rather than the mean: a benchmark's repeats have a long tail
 * (a GC pause, a descheduled rank) that says little about the code being timed.
 *
 * @param values at least one number
 * @returns the median; NaN for an empty list
 *
 * @example Odd and even counts
 * ```ts
 * const times = [3, 1, 2];
 * assert.equal(median(times), 2);
 * assert.deepEqual(times, [3, 1, 2]);
 * assert.equal(median([4, 1, 3, 2]), 2.5);
 * ```
 */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
