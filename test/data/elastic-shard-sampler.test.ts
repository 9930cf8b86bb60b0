// The elastic shard: with a fixed world it is DistributedSampler's shard; when the world changes
// mid-epoch, the rest of the epoch is re-dealt so that no sample is skipped or seen twice.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DistributedSampler, ElasticShardSampler, epochPermutation, positionsConsumed } from "../../src/data/index.js";

test("from position 0 with a fixed world size, each rank's shard is DistributedSampler's", () => {
  for (const [size, world] of [[10, 3], [8000, 3], [7, 2], [5, 5]] as const) {
    for (let rank = 0; rank < world; rank++) {
      const elastic = [...new ElasticShardSampler(size, { rank, worldSize: world, from: 0, seed: 4 }).indices(2)];
      const fixed = [...new DistributedSampler(size, { rank, worldSize: world, seed: 4 }).indices(2)];
      assert.deepEqual(elastic, fixed, `size ${size}, world ${world}, rank ${rank}`);
    }
  }
});

/** The samples one step of `world` ranks trains on: every rank's j-th batch. */
function stepSamples(size: number, from: number, world: number, batch: number, j: number, epoch: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < world; r++) {
    const shard = [...new ElasticShardSampler(size, { rank: r, worldSize: world, from, seed: 1 }).indices(epoch)];
    out.push(...shard.slice(j * batch, (j + 1) * batch));
  }
  return out;
}

test("an epoch whose world shrinks from 3 to 2 and grows to 4 sees every sample once, apart from the end's padding", () => {
  const size = 1000, batch = 16, epoch = 3;
  const seen: number[] = [];
  let position = 0;
  const worlds = [3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 4];
  let from = 0, j = 0, world = worlds[0]!;
  for (let s = 0; position < size; s++) {
    const w = worlds[Math.min(s, worlds.length - 1)]!;
    if (w !== world) (world = w), (from = position), (j = 0); // re-dealt at the step boundary
    seen.push(...stepSamples(size, from, world, batch, j, epoch));
    position += positionsConsumed(size, from, world, batch, j);
    j++;
  }
  const counts = new Map<number, number>();
  for (const i of seen) counts.set(i, (counts.get(i) ?? 0) + 1);
  assert.equal(counts.size, size, "every sample of the epoch was seen");
  const twice = [...counts.values()].filter((c) => c > 1).length;
  // Padding wraps around to the start of the permutation: fewer repeats than ranks in the last step.
  assert.ok(twice < 4, `${twice} samples seen twice`);
  assert.equal(seen.length - size, twice);
  // The repeats are the permutation's first samples (the padding), not samples from the middle.
  const perm = epochPermutation(size, 1, epoch);
  for (const [i, c] of counts) if (c > 1) assert.ok(perm.indexOf(i) < 4, `sample ${i} repeated from position ${perm.indexOf(i)}`);
});

test("positionsConsumed counts a whole step, then what is left, then nothing", () => {
  assert.equal(positionsConsumed(100, 0, 3, 16, 0), 48);
  // ceil(100/3) = 34 per rank: steps of 16, 16, 2.
  assert.equal(positionsConsumed(100, 0, 3, 16, 2), 6);
  assert.equal(positionsConsumed(100, 0, 3, 16, 3), 0);
  assert.throws(() => new ElasticShardSampler(100, { rank: 0, worldSize: 2, from: 100, seed: 0 }), /position 100 is not in \[0, 100\)/);
});
