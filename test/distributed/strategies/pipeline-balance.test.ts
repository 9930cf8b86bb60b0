// Where the pipeline cuts the stack: the balanced cut is the best contiguous one (checked against
// trying every cut), --split is parsed and checked against the stack in one line each, and the
// cost measurement leaves the model as it found it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { balanceStages, measureLayerCosts, parseSplit, splitStarts } from "../../../src/distributed/strategies/pipeline-balance.js";
import { TinyGpt } from "../../../src/models/tiny-gpt.js";
import { manualSeed } from "../../../src/nn/index.js";
import { Rng } from "../../../src/util/rng.js";

/** The costliest stage of the cut `starts`. */
function worst(costs: readonly number[], starts: readonly number[]): number {
  return Math.max(...starts.map((from, i) => costs.slice(from, starts[i + 1] ?? costs.length).reduce((a, b) => a + b, 0)));
}

/** Every cut of `n` layers into `k` non-empty stages. */
function* cuts(n: number, k: number, from = 1): Generator<number[]> {
  if (k === 1) {
    yield [0];
    return;
  }
  for (let at = from; at <= n - k + 1; at++) for (const rest of cuts(n, k - 1, at + 1)) yield [...rest, at].sort((a, b) => a - b);
}

test("the balanced cut's costliest stage is the least of any cut's, each stage at least one layer", () => {
  const rng = new Rng(5);
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + rng.int(8);
    const k = 1 + rng.int(n);
    const costs = Array.from({ length: n }, () => rng.int(10));
    const starts = balanceStages(costs, k);
    assert.equal(starts.length, k);
    assert.equal(starts[0], 0);
    for (let i = 1; i < k; i++) assert.ok(starts[i]! > starts[i - 1]! && starts[i]! < n, `${starts} for ${n} layers`);
    const best = Math.min(...[...cuts(n, k)].map((c) => worst(costs, c)));
    assert.equal(worst(costs, starts), best, `costs ${costs} into ${k}: ${starts}`);
  }
});

test("--split is parsed, and checked against the stages and the stack, in one line that says what to change", () => {
  assert.deepEqual(parseSplit("3,6"), [3, 6]);
  for (const bad of ["", "3,,6", "6,3", "0,2", "1.5", "-1", "a"]) assert.match(parseSplit(bad) as string, /^--split .* must be rising layer indices above 0/);
  assert.deepEqual(splitStarts([3, 6], 10, 3), [0, 3, 6]);
  assert.throws(() => splitStarts([3], 10, 3), /^RangeError: pipeline: --split 3 cuts the model into 2 stages, but --stages is 3: give 2 layer index\(es\)/);
  assert.throws(() => splitStarts([3, 10], 10, 3), /--split 3,10 must rise strictly between 1 and 9 \(the model has 10 layers, 0..9\); 10 does not/);
});

test("measuring the layers gives one cost per layer and leaves no gradients behind", () => {
  manualSeed(3);
  const model = new TinyGpt({ vocab: 16, context: 8, layers: 2, dim: 16, heads: 2 });
  const stack = model.layerStack();
  const before = model.parameters().map((p) => p.dense().slice());
  const ids = Int32Array.from({ length: 16 }, (_, i) => i % 16);
  const costs = measureLayerCosts(stack, { tokens: ids, targets: ids, batch: 2, time: 8 });
  assert.equal(costs.length, 4);
  assert.ok(costs.every((c) => c >= 0 && Number.isFinite(c)), `${costs}`);
  assert.ok(model.parameters().every((p) => p.grad === null));
  model.parameters().forEach((p, i) => assert.deepEqual(p.dense(), before[i]));
});
