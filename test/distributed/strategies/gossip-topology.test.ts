// The gossip graphs: who pushes to whom, the same answer on every rank, and in every round each
// rank receives from as many peers as it sends to (Note [doubly stochastic rounds]), so uniform
// mixing in lockstep is doubly stochastic. The channels (gossipEdges) cover every push.
import assert from "node:assert/strict";
import { test } from "node:test";
import { gossipEdges, gossipSources, gossipTargets, GOSSIP_TOPOLOGIES } from "../../../src/distributed/strategies/gossip-topology.js";

test("ring: each rank pushes to r-1 and r+1; two ranks are one peer; one rank has none", () => {
  assert.deepEqual([0, 1, 2, 3].map((r) => gossipTargets("ring", r, 4, 1)), [[1, 3], [0, 2], [1, 3], [0, 2]]);
  assert.deepEqual(gossipTargets("ring", 0, 2, 7), [1]);
  assert.deepEqual(gossipTargets("ring", 0, 1, 1), []);
  assert.deepEqual(gossipEdges("ring", 1), []);
});

test("exponential: the peer 2^((t-1) mod m) away, m the powers of two below N", () => {
  assert.deepEqual([1, 2, 3, 4, 5].map((t) => gossipTargets("exponential", 0, 8, t)[0]), [1, 2, 4, 1, 2]);
  assert.deepEqual([1, 2, 3].map((t) => gossipTargets("exponential", 3, 4, t)[0]), [0, 1, 0]);
  // Not a power of two: the distances are 1, 2, 4 (below 6)
  assert.deepEqual([1, 2, 3, 4].map((t) => gossipTargets("exponential", 5, 6, t)[0]), [0, 1, 3, 0]);
  assert.deepEqual(gossipSources("exponential", 0, 8, 3), [4]);
});

test("random: a seeded cyclic permutation per step, the same on every call, different across steps and seeds", () => {
  const perm = (step: number, seed: number) => Array.from({ length: 8 }, (_, r) => gossipTargets("random", r, 8, step, seed)[0]!);
  for (let step = 1; step <= 20; step++) {
    const p = perm(step, 3);
    assert.deepEqual([...p].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7], `step ${step}: a permutation`);
    // One cycle through all ranks: nobody pushes to itself, and information can reach everyone.
    let r = 0;
    for (let i = 1; i < 8; i++) {
      r = p[r]!;
      assert.notEqual(r, 0, `step ${step}: a shorter cycle`);
    }
    assert.deepEqual(perm(step, 3), p);
  }
  assert.notDeepEqual(perm(1, 3), perm(2, 3));
  assert.notDeepEqual(perm(1, 3), perm(1, 4));
});

for (const topology of GOSSIP_TOPOLOGIES) {
  test(`${topology}: sources are the ranks whose targets name this rank, every round is balanced, and every push has a channel`, () => {
    for (const n of [2, 3, 4, 5, 8]) {
      const edges = new Set(gossipEdges(topology, n).map(([a, b]) => `${a}>${b}`));
      for (let step = 1; step <= 12; step++) {
        for (let r = 0; r < n; r++) {
          const targets = gossipTargets(topology, r, n, step, 9);
          const sources = gossipSources(topology, r, n, step, 9);
          const expected = Array.from({ length: n }, (_, s) => s).filter((s) => gossipTargets(topology, s, n, step, 9).includes(r));
          assert.deepEqual(sources, expected, `${topology} n=${n} step ${step} rank ${r}`);
          assert.equal(sources.length, targets.length, `${topology} n=${n} step ${step} rank ${r}: as many in as out`);
          assert.ok(!targets.includes(r), "nobody pushes to itself");
          for (const t of targets) assert.ok(edges.has(`${r}>${t}`), `${topology} n=${n}: no channel for ${r}>${t}`);
        }
      }
      const list = gossipEdges(topology, n).map(([a, b]) => a * n + b);
      assert.deepEqual(list, [...list].sort((a, b) => a - b), "edges sorted by (from, to)");
      assert.equal(new Set(list).size, list.length, "no edge twice");
    }
  });
}

test("the channel count per topology on 4 ranks: ring 8, exponential 8, random 12", () => {
  assert.equal(gossipEdges("ring", 4).length, 8);
  assert.equal(gossipEdges("exponential", 4).length, 8);
  assert.equal(gossipEdges("random", 4).length, 12);
});

test("bad arguments are refused with what is allowed", () => {
  assert.throws(() => gossipTargets("star" as never, 0, 4, 1), /topology must be one of ring, random, exponential, got "star"/);
  assert.throws(() => gossipTargets("ring", 4, 4, 1), /rank 4 is not one of 0..3/);
  assert.throws(() => gossipTargets("ring", 0, 4, 0), /steps count from 1, got 0/);
  assert.throws(() => gossipEdges("ring", 0), /worldSize must be an integer >= 1, got 0/);
});
