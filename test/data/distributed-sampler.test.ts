// DistributedSampler: the ranks' shares of an epoch partition the data set (padding by wrapping
// around when it does not divide, or dropping the tail when asked), each epoch reshuffles, and
// every rank derives the same permutation from the seed alone.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DistributedSampler } from "../../src/data/index.js";

function shares(size: number, worldSize: number, epoch: number, dropLast = false): number[][] {
  return Array.from({ length: worldSize }, (_, rank) => [...new DistributedSampler(size, { rank, worldSize, seed: 3, dropLast }).indices(epoch)]);
}

test("ranks' shares cover every sample exactly once when the size divides", () => {
  const s = shares(12, 3, 0);
  assert.deepEqual(s.map((x) => x.length), [4, 4, 4]);
  assert.deepEqual(s.flat().sort((a, b) => a - b), [...Array(12).keys()]);
});

test("an uneven size is padded by wrapping around, so every rank has the same number of batches", () => {
  const s = shares(10, 3, 1);
  assert.deepEqual(s.map((x) => x.length), [4, 4, 4]);
  const seen = new Set(s.flat());
  assert.equal(seen.size, 10, "no sample dropped");
  assert.equal(s.flat().length - seen.size, 2, "two padding repeats");
});

test("dropLast drops the tail instead of padding", () => {
  const s = shares(10, 3, 1, true);
  assert.deepEqual(s.map((x) => x.length), [3, 3, 3]);
  assert.equal(new Set(s.flat()).size, 9);
});

test("each epoch is a new order; the same seed gives the same order on every rank and run", () => {
  assert.notDeepEqual(shares(100, 2, 0)[0], shares(100, 2, 1)[0]);
  assert.deepEqual(shares(100, 2, 5), shares(100, 2, 5));
  assert.throws(() => new DistributedSampler(10, { rank: 2, worldSize: 2 }), /rank 2 is not in \[0, 2\)/);
});
