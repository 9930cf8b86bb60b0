import assert from "node:assert/strict";
import { test } from "node:test";
import { collateLabeled, type LabeledSample } from "../../src/data/collate-labeled.js";
import { DataLoader, type BatchContext } from "../../src/data/data-loader.js";
import type { Dataset } from "../../src/data/dataset.js";
import { epochPermutation, type Sampler } from "../../src/data/sampler.js";

/** Sample i is just i, so batches show exactly which indices they hold. */
function indexDataset(length: number): Dataset<number> {
  return { length, get: (i) => i };
}
const asIndices = (samples: readonly number[]): number[] => [...samples];

function epochOf(loader: DataLoader<number, number[]>, epoch: number): number[][] {
  return [...loader.batches(epoch)];
}

test("a shuffled epoch visits every index exactly once, ending with a partial batch", () => {
  const loader = new DataLoader(indexDataset(103), { batchSize: 10, shuffle: true, seed: 1, collate: asIndices });
  const batches = epochOf(loader, 0);
  assert.equal(batches.length, 11);
  assert.equal(loader.batchesPerEpoch, 11);
  assert.deepEqual(batches.map((b) => b.length), [...new Array(10).fill(10), 3]);
  assert.deepEqual(batches.flat().sort((a, b) => a - b), Array.from({ length: 103 }, (_, i) => i));
});

test("each epoch has a new order; the same seed replays it and another seed does not", () => {
  const options = { batchSize: 8, shuffle: true, collate: asIndices };
  const a = new DataLoader(indexDataset(50), { ...options, seed: 4 });
  const b = new DataLoader(indexDataset(50), { ...options, seed: 4 });
  const c = new DataLoader(indexDataset(50), { ...options, seed: 5 });
  assert.notDeepEqual(epochOf(a, 0).flat(), epochOf(a, 1).flat());
  assert.deepEqual(epochOf(a, 3), epochOf(b, 3));
  assert.notDeepEqual(epochOf(a, 3).flat(), epochOf(c, 3).flat());
  assert.deepEqual(epochOf(a, 2).flat(), [...epochPermutation(50, 4, 2)]);
});

test("without shuffle the order is 0..n-1", () => {
  const loader = new DataLoader(indexDataset(5), { batchSize: 2, collate: asIndices });
  assert.deepEqual(epochOf(loader, 0), [[0, 1], [2, 3], [4]]);
});

test("dropLast drops only the final partial batch", () => {
  const loader = new DataLoader(indexDataset(103), { batchSize: 10, shuffle: true, dropLast: true, collate: asIndices });
  const batches = epochOf(loader, 0);
  assert.equal(batches.length, 10);
  assert.equal(loader.batchesPerEpoch, 10);
  assert.ok(batches.every((b) => b.length === 10));
  assert.equal(new Set(batches.flat()).size, 100);
  const exact = new DataLoader(indexDataset(30), { batchSize: 10, dropLast: true, collate: asIndices });
  assert.equal(epochOf(exact, 0).length, 3);
});

test("a sampler decides the indices; one that yields out-of-range indices is refused", () => {
  const evens: Sampler = { length: 5, indices: (epoch) => [0, 2, 4, 6, 8].map((i) => (i + epoch * 10) % 10) };
  const loader = new DataLoader(indexDataset(10), { batchSize: 2, sampler: evens, collate: asIndices });
  assert.deepEqual(epochOf(loader, 0), [[0, 2], [4, 6], [8]]);
  assert.equal(loader.batchesPerEpoch, 3);
  const bad: Sampler = { length: 1, indices: () => [10] };
  assert.throws(
    () => epochOf(new DataLoader(indexDataset(10), { batchSize: 2, sampler: bad, collate: asIndices }), 0),
    /the sampler yielded index 10 for a data set of 10 samples/,
  );
  assert.throws(() => new DataLoader(indexDataset(10), { batchSize: 2, sampler: evens, shuffle: true, collate: asIndices }), /not both/);
});

test("resuming at batch k gives the remaining batches of the uninterrupted epoch", () => {
  const loader = new DataLoader(indexDataset(40), { batchSize: 6, shuffle: true, seed: 2, collate: asIndices });
  assert.deepEqual([...loader.batches(1, 4)], epochOf(loader, 1).slice(4));
});

test("a sample's augmentation randomness depends on (seed, epoch, index), not on batching", () => {
  const draws = (batchSize: number, epoch: number): Map<number, number> => {
    const seen = new Map<number, number>();
    const collate = (samples: readonly number[], context: BatchContext): null => {
      samples.forEach((sample, k) => seen.set(sample, context.sampleRng(k).next()));
      return null;
    };
    const loader = new DataLoader(indexDataset(30), { batchSize, shuffle: true, seed: 8, collate });
    for (const _ of loader.batches(epoch)) void _;
    return seen;
  };
  assert.deepEqual(draws(7, 0), draws(13, 0));
  assert.notDeepEqual(draws(7, 0), draws(7, 1));
});

test("epoch() yields the same batches as batches(), building the next one while the consumer awaits", async () => {
  let built = 0;
  const collate = (samples: readonly number[]): number[] => {
    built++;
    return [...samples];
  };
  const loader = new DataLoader(indexDataset(20), { batchSize: 5, shuffle: true, seed: 3, collate });
  const received: number[][] = [];
  for await (const batch of loader.epoch(0)) {
    received.push(batch);
    const builtBefore = built;
    // Stands in for an all-reduce: the consumer yields to the event loop. A macrotask queued now
    // (setImmediate) runs after the prefetch, which the loader queued the same way before handing
    // the batch out; a timer would not do, as a timer that is already due may run first.
    await new Promise((resolve) => setImmediate(resolve));
    // While we waited, the following batch (if any) was prepared.
    assert.equal(built, Math.min(builtBefore + 1, 4));
  }
  assert.deepEqual(received, epochOf(loader, 0));

  // Stopping early is clean and builds at most one batch ahead.
  built = 0;
  for await (const _ of loader.epoch(1)) {
    void _;
    break;
  }
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(built <= 2, `built ${built}`);
});

test("collateLabeled stacks samples, keeps labels and indices, augments then normalizes", () => {
  const data: Dataset<LabeledSample> = {
    length: 3,
    get: (i) => ({ x: new Float32Array([i, i + 0.5]), y: 10 + i }),
  };
  const plain = new DataLoader(data, { batchSize: 2, collate: collateLabeled({ sampleShape: [1, 2] }) });
  const [first, second] = [...plain.batches(0)];
  assert.deepEqual(first.x, new Float32Array([0, 0.5, 1, 1.5]));
  assert.deepEqual(first.xShape, [2, 1, 2]);
  assert.deepEqual(first.y, new Int32Array([10, 11]));
  assert.deepEqual(first.indices, new Int32Array([0, 1]));
  assert.deepEqual(second.xShape, [1, 1, 2]);

  const augmented = new DataLoader(data, {
    batchSize: 3,
    collate: collateLabeled({
      sampleShape: [2],
      augment: (source, target) => {
        target[0] = source[1];
        target[1] = source[0];
      },
      normalize: { mean: 1, std: 0.5 },
    }),
  });
  const [batch] = [...augmented.batches(0)];
  // sample i is [i, i + 0.5]: swapped to [i + 0.5, i], then (v - 1) / 0.5
  assert.deepEqual(batch.x, new Float32Array([-1, -2, 1, 0, 3, 2]));
  const wrongShape = new DataLoader(data, { batchSize: 1, collate: collateLabeled({ sampleShape: [3] }) });
  assert.throws(() => [...wrongShape.batches(0)], /sample 0 has 2 values, expected 3 for shape \[3\]/);
});
