// How far apart the replicas of a decentralized run are: the consensus distance of D-PSGD's
// analysis (Kong et al. 2021 call it Ξ), measured with two all-reduces over the whole group.
//
//   mean          x̄ = (1/N) Σ_i x_i                     (the first all-reduce, of the vectors)
//   distance      Ξ = sqrt( (1/N) Σ_i ||x_i - x̄||² )     (the second, of one float per rank)
//   relative      Ξ / ||x̄||                              (scale-free: 0.01 means replicas 1% apart)
//
// The squared norms are summed in float64 on each rank and travel as float32: the result is a
// diagnostic, good to about 7 digits, not a quantity anything is computed from.
//
// A vector that holds more than the parameters (FlatState's: the parameters, then buffers such as
// batch norm's running statistics) is averaged whole, but Ξ and ||x̄|| are measured over its
// first `measured` floats only: the distance is about the trained parameters, and running
// statistics, which each rank takes from its own batches and no step trains, would otherwise
// be counted as disagreement (and in a scale of their own: a running variance is near 1).
import type { ProcessGroup } from "../group/process-group.js";
import { sharedFloat32Array } from "../base/shared-buffer.js";

export interface ConsensusDistance {
  /** RMS over the ranks of each replica's L2 distance to the mean replica. */
  distance: number;
  /** `distance` divided by the mean replica's L2 norm (0 when the mean is zero). */
  relative: number;
}

/**
 * Measures the consensus distance of every rank's `x` (the same length on each) over its first
 * `options.measured` floats (default: all of it), and leaves the mean of the whole of `x` in
 * `mean` (equal bytes on every rank). Every rank of `pg` must call it.
 *
 * @example Replicas [0, 0] and [2, 0]: the mean is [1, 0], each is 1 away from it
 * ```ts
 * import { consensusDistance, createInProcessGroups } from "weft";
 * const groups = createInProcessGroups(2);
 * const xs = [Float32Array.of(0, 0), Float32Array.of(2, 0)];
 * const means = xs.map(() => new Float32Array(2));
 * const [c] = await Promise.all(groups.map((pg, r) => consensusDistance(pg, xs[r]!, means[r]!)));
 * assert.deepEqual(c, { distance: 1, relative: 1 });
 * assert.deepEqual([...means[1]!], [1, 0]);
 * await Promise.all(groups.map((pg) => pg.destroy()));
 * ```
 */
export async function consensusDistance(pg: ProcessGroup, x: Float32Array, mean: Float32Array, options: { timeoutMs?: number; measured?: number } = {}): Promise<ConsensusDistance> {
  if (mean.length !== x.length) throw new RangeError(`consensusDistance: mean has ${mean.length} floats, x has ${x.length}; pass buffers of the same length`);
  const measured = options.measured ?? x.length;
  if (!Number.isInteger(measured) || measured < 0 || measured > x.length) {
    throw new RangeError(`consensusDistance: measured must be an integer from 0 to x's ${x.length} floats (the parameters at its start), got ${measured}`);
  }
  const call = options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs };
  const sum = sharedFloat32Array(x.length);
  sum.set(x);
  await pg.allReduce(sum, { op: "avg", wire: "f32", ...call });
  mean.set(sum);
  let d2 = 0;
  let m2 = 0;
  for (let i = 0; i < measured; i++) {
    const d = x[i]! - mean[i]!;
    d2 += d * d;
    m2 += mean[i]! * mean[i]!;
  }
  const spread = sharedFloat32Array(1);
  spread[0] = d2;
  await pg.allReduce(spread, { op: "sum", wire: "f32", ...call });
  const distance = Math.sqrt(spread[0]! / pg.worldSize);
  return { distance, relative: m2 > 0 ? distance / Math.sqrt(m2) : 0 };
}
