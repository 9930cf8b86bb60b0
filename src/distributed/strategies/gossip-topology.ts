// Who pushes parameters to whom in gossip training (gossip.ts), as pure functions of the rank, the
// number of workers and the step, so that every rank computes the same graph without talking:
//
//   ring         rank r pushes to r+1 and r-1 (mod N) after every step: D-PSGD's ring
//                (Lian et al. 2017). With N = 2 the two are one peer.
//   exponential  after step t rank r pushes to the one peer 2^k away, k = (t-1) mod m, where m is
//                the number of powers of two below N (m = log2 N for a power of two): the
//                one-peer exponential graph of SGP (Assran et al. 2019). Any m consecutive steps
//                reach every distance 1, 2, 4, ..., so information crosses the job in log2 N steps
//                while each rank sends one message per step.
//   random       after step t rank r pushes to π_t(r), where π_t is a random cyclic permutation
//                (Sattolo's shuffle) drawn from `seed` and t: the same on every rank, a fresh
//                random peer per step, and every rank receives from exactly one peer per step.
//
// Note [doubly stochastic rounds]: in each of the three, every rank receives in a round from as
// many peers as it sends to (two for the ring, one otherwise), so averaging uniformly over
// yourself and what arrived — (x + Σ arrivals) / (1 + k) — is a doubly stochastic mixing matrix
// when the rounds run in lockstep (the synchronous schedule of gossip.ts): the replicas' mean is
// kept and their spread contracts, which is what D-PSGD's analysis needs.
//
// The channels a rank must set up are every directed edge the topology can ever use (edges()),
// since an asynchronous receiver cannot know which step a sender is at.
import { Rng } from "../../util/rng.js";

export const GOSSIP_TOPOLOGIES = ["ring", "random", "exponential"] as const;
export type GossipTopology = (typeof GOSSIP_TOPOLOGIES)[number];

/** Powers of two below `worldSize` (1, 2, 4, ...): the exponential graph's distances. */
function distances(worldSize: number): number[] {
  const out: number[] = [];
  for (let d = 1; d < worldSize; d *= 2) out.push(d);
  return out;
}

const mod = (a: number, n: number): number => ((a % n) + n) % n;

/** A random cyclic permutation of 0..n-1 (Sattolo's shuffle: one n-cycle, so nobody maps to itself). */
function randomCycle(n: number, seed: number, step: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  const rng = new Rng(seed).fork(step);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i); // j < i: Sattolo, not Fisher-Yates
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

function checkArgs(topology: GossipTopology, rank: number, worldSize: number, step: number): void {
  if (!GOSSIP_TOPOLOGIES.includes(topology)) throw new RangeError(`gossip topology must be one of ${GOSSIP_TOPOLOGIES.join(", ")}, got "${topology}"`);
  if (!Number.isInteger(worldSize) || worldSize < 1) throw new RangeError(`gossip: worldSize must be an integer >= 1, got ${worldSize}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) throw new RangeError(`gossip: rank ${rank} is not one of 0..${worldSize - 1}`);
  if (!Number.isInteger(step) || step < 1) throw new RangeError(`gossip: steps count from 1, got ${step}`);
}

/**
 * The ranks `rank` pushes its parameters to after step `step` (counting from 1), sorted.
 *
 * @example Ring and exponential peers of rank 0 among 8
 * ```ts
 * import { gossipTargets } from "weft";
 * assert.deepEqual(gossipTargets("ring", 0, 8, 1), [1, 7]);
 * assert.deepEqual([1, 2, 3, 4].map((t) => gossipTargets("exponential", 0, 8, t)), [[1], [2], [4], [1]]);
 * assert.equal(gossipTargets("random", 3, 8, 5, 42).length, 1);
 * ```
 */
export function gossipTargets(topology: GossipTopology, rank: number, worldSize: number, step: number, seed = 0): number[] {
  checkArgs(topology, rank, worldSize, step);
  if (worldSize === 1) return [];
  switch (topology) {
    case "ring":
      return [...new Set([mod(rank + 1, worldSize), mod(rank - 1, worldSize)])].sort((a, b) => a - b);
    case "exponential": {
      const ds = distances(worldSize);
      return [mod(rank + ds[(step - 1) % ds.length]!, worldSize)];
    }
    case "random":
      return [randomCycle(worldSize, seed, step)[rank]!];
  }
}

/**
 * The ranks that push to `rank` after step `step`: those whose targets include it, sorted.
 *
 * @example In the exponential graph the source is as far behind as the target is ahead
 * ```ts
 * import { gossipSources, gossipTargets } from "weft";
 * assert.deepEqual(gossipSources("exponential", 0, 8, 3), [4]);
 * assert.deepEqual(gossipTargets("random", gossipSources("random", 5, 8, 2, 7)[0]!, 8, 2, 7), [5]);
 * ```
 */
export function gossipSources(topology: GossipTopology, rank: number, worldSize: number, step: number, seed = 0): number[] {
  checkArgs(topology, rank, worldSize, step);
  if (worldSize === 1) return [];
  switch (topology) {
    case "ring":
      return gossipTargets(topology, rank, worldSize, step, seed); // symmetric
    case "exponential": {
      const ds = distances(worldSize);
      return [mod(rank - ds[(step - 1) % ds.length]!, worldSize)];
    }
    case "random":
      return [randomCycle(worldSize, seed, step).indexOf(rank)];
  }
}

/**
 * Every directed edge [from, to] the topology can use at some step, sorted by (from, to): the
 * channels gossip sets up, in the order every rank makes them.
 *
 * @example Three ranks on a ring use all six directions; random gossip may use any of them
 * ```ts
 * import { gossipEdges } from "weft";
 * assert.deepEqual(gossipEdges("ring", 3), [[0, 1], [0, 2], [1, 0], [1, 2], [2, 0], [2, 1]]);
 * assert.equal(gossipEdges("random", 5).length, 20);
 * assert.equal(gossipEdges("exponential", 8).length, 24);   // distances 1, 2, 4 from each rank
 * ```
 */
export function gossipEdges(topology: GossipTopology, worldSize: number): [number, number][] {
  checkArgs(topology, 0, worldSize, 1);
  const edges: [number, number][] = [];
  for (let from = 0; from < worldSize; from++) {
    const to = new Set<number>();
    if (topology === "random") for (let r = 0; r < worldSize; r++) if (r !== from) to.add(r);
    if (topology === "ring") for (const r of gossipTargets("ring", from, worldSize, 1)) to.add(r);
    if (topology === "exponential") for (const d of distances(worldSize)) to.add(mod(from + d, worldSize));
    for (const r of [...to].sort((a, b) => a - b)) edges.push([from, r]);
  }
  return edges;
}
