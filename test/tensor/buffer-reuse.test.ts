// Reusing a step's buffers (Note [reusing a step's buffers] in src/tensor/storage.ts) changes no
// bit of training: every recipe's model after a few steps of fit() is the same with and without
// it, and the pool was used; so are two in-process ranks of DDP, ZeRO-3 and a pipeline. A tensor
// kept past its step without detach() says so when read, instead of reading another tensor's
// numbers; detach() keeps it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCommandLine } from "../../src/cli/options.js";
import { modelDigest } from "../../src/distributed/strategies/flat-state.js";
import { createInProcessGroups } from "../../src/distributed/group/in-process-group.js";
import type { ProcessGroup } from "../../src/distributed/group/process-group.js";
import { DdpStrategy } from "../../src/distributed/strategies/ddp-strategy.js";
import { PipelineStrategy } from "../../src/distributed/strategies/pipeline.js";
import type { Strategy } from "../../src/distributed/strategies/strategy.js";
import { ZeroStrategy } from "../../src/distributed/strategies/zero.js";
import { findRecipe, RECIPES } from "../../src/recipes/index.js";
import { fit } from "../../src/train/fit.js";
import type { Recipe } from "../../src/train/recipe.js";
import { buildRecipeParts } from "../../src/train/run-recipe.js";
import { buffersReused, int32BuffersReused } from "../../src/tensor/storage.js";
import { add, conv2d, maxPool2d, mul, noGrad, relu, reshape, reusingBuffers, slice, sum, tensor, Tensor } from "../../src/tensor/index.js";
import { releaseBufferPool, uninitialized } from "../../src/tensor/storage.js";

const STEPS = 3;
const ALL_SMALL = new Set(["breast-cancer"]);

async function digestAfterSteps(
  recipe: Recipe, reuseBuffers: boolean, strategy?: Strategy, dataRank = 0, dataRanks = 1,
): Promise<{ digest: string; losses: number[] }> {
  const options = parseCommandLine([], recipe.options, { command: `weft train ${recipe.name}` }).values;
  const settings = { ...recipe.defaults, maxSteps: STEPS, options };
  const { model, optimizer, schedule, data } = buildRecipeParts(recipe, settings, dataRank, dataRanks);
  const losses: number[] = [];
  await fit({
    model, optimizer, schedule, data, maxSteps: STEPS, reuseBuffers, ...(strategy ? { strategy } : {}),
    ...(recipe.layers ? { layers: recipe.layers(model, settings) } : {}),
    loss: (m, b) => recipe.loss(m, b), samplesIn: (b) => recipe.samplesIn(b), onStep: (s) => losses.push(s.loss),
  });
  return { digest: modelDigest(model), losses };
}

for (const recipe of RECIPES) {
  test(`${recipe.name}: ${STEPS} steps reusing buffers end with the same parameters as with fresh ones`, async () => {
    const fresh = await digestAfterSteps(recipe, false);
    const before = buffersReused();
    const reused = await digestAfterSteps(recipe, true);
    assert.deepEqual(reused.losses, fresh.losses);
    assert.equal(reused.digest, fresh.digest);
    assert.equal(fresh.losses.length, STEPS);
    // Not a vacuous pass: the pool gave buffers out again, except where every buffer is under the
    // pool's 4 KiB floor (the breast-cancer MLPs: 30 features, 8 hidden units).
    if (ALL_SMALL.has(recipe.name)) assert.equal(buffersReused(), before);
    else assert.ok(buffersReused() > before, `${recipe.name}: no buffer was reused`);
  });
}

// Strategies that keep activations across ranks and micro-batches, or rebuild layers, each on two
// in-process ranks: the same bits with and without reuse, on the GPT recipe (a layer stack).
const MULTI_RANK: { name: string; make(pg: ProcessGroup): Strategy; dataRanks: number }[] = [
  { name: "ddp", make: (pg) => new DdpStrategy(pg), dataRanks: 2 },
  { name: "zero-3", make: (pg) => new ZeroStrategy(pg, { stage: 3 }), dataRanks: 2 },
  { name: "pipeline 1f1b", make: (pg) => new PipelineStrategy(pg, { stages: 2, microBatches: 2, schedule: "1f1b" }), dataRanks: 1 },
];
for (const s of MULTI_RANK) {
  test(`gpt-text, ${s.name} on 2 ranks: reusing buffers gives every rank the same parameters as fresh ones`, async () => {
    const gpt = findRecipe("gpt-text")!;
    const run = (reuse: boolean) => Promise.all(createInProcessGroups(2).map((pg, r) => digestAfterSteps(gpt, reuse, s.make(pg), Math.min(r, s.dataRanks - 1), s.dataRanks)));
    const fresh = await run(false);
    const before = buffersReused();
    const reused = await run(true);
    assert.ok(buffersReused() > before, "no buffer was reused");
    assert.deepEqual(reused.map((r) => r.digest), fresh.map((r) => r.digest));
    assert.deepEqual(reused.map((r) => r.losses), fresh.map((r) => r.losses));
  });
}

test("a tensor kept past its step without detach() throws when read; a detached one keeps its values", async () => {
  const x = tensor(Array.from({ length: 2 * 3 * 16 * 16 }, (_, i) => Math.sin(i)), [2, 3, 16, 16], { requiresGrad: true });
  const w = tensor(Array.from({ length: 4 * 3 * 3 * 3 }, (_, i) => Math.cos(i)), [4, 3, 3, 3], { requiresGrad: true });
  let hidden: Tensor | undefined;
  let kept: Tensor | undefined;
  let expected: Float32Array | undefined;
  await reusingBuffers(async () => {
    hidden = conv2d(x, w, null, { padding: 1 });
    const activated = relu(hidden);
    kept = activated.detach();
    expected = activated.dense().slice();
    sum(activated).backward();
  });
  assert.throws(() => hidden!.dense(), /storage was reused after its backward ran .*detach\(\) or clone it inside the step/);
  assert.deepEqual(kept!.dense(), expected);
  assert.ok(w.grad !== null && w.grad.dense().some((v) => v !== 0), "the leaf's gradient is whole");
});

test("outside reusingBuffers a tensor lives on after backward", () => {
  const x = tensor(Array.from({ length: 4096 }, (_, i) => i - 2048), [4096], { requiresGrad: true });
  const hidden = relu(x);
  sum(hidden).backward();
  assert.equal(hidden.dense()[4000], 4000 - 2048);
});

const ramp = (n: number, requiresGrad = false): Tensor => tensor(Array.from({ length: n }, (_, i) => (i % 97) / 97 - 0.5), [n], { requiresGrad });
const REUSED = /storage was reused after its backward ran/;

test("only the first tensor over a step's fresh buffer owns it: a leaf or view over it cannot hand it back", () => {
  reusingBuffers(() => {
    const data = uninitialized(4096);
    const first = new Tensor(data, [4096]);
    const alias = new Tensor(data, [64, 64], undefined, 0, true);
    assert.equal(first.ownsStorage, true);
    assert.equal(alias.ownsStorage, false);
    // A buffer made outside a step (a parameter's, a batch's) is nobody's to hand back.
    assert.equal(new Tensor(data.slice(), [4096]).ownsStorage, false);
  });
  assert.equal(new Tensor(uninitialized(4096), [4096]).ownsStorage, false);
});

test("a graph read again after its step's backward fails by name, not in a kernel", () => {
  const x = ramp(4096, true);
  const w = ramp(4096, true);
  let second: Tensor | undefined;
  reusingBuffers(() => {
    const trunk = relu(mul(x, w));
    const head1 = sum(mul(trunk, 2));
    second = sum(mul(trunk, 3));
    head1.backward();
  });
  // The trunk's storage went back when its backward ran; the second head still reads it.
  assert.throws(() => second!.backward(), REUSED);
});

test("a no-grad view used as a constant fails by name if its base's storage went back first", () => {
  const p = ramp(4096, true);
  const x = ramp(4096, true);
  reusingBuffers(() => {
    const h = relu(mul(x, 1.5));
    const target = noGrad(() => reshape(h, [64, 64]));
    // relu(h)'s branch runs its backward first and hands h back; mul(p, target) then reads it.
    const loss = add(sum(mul(reshape(p, [64, 64]), target)), sum(relu(h)));
    assert.throws(() => loss.backward(), REUSED);
  });
});

test("item() of a one-element slice of a handed-back tensor throws instead of reading undefined", () => {
  const x = ramp(4096, true);
  let hidden: Tensor | undefined;
  reusingBuffers(() => {
    hidden = relu(x);
    sum(mul(hidden, 2)).backward();
  });
  assert.throws(() => slice(hidden!, 0, 5, 6).item(), REUSED);
});

test("a max-pool's indices go back to the pool after its backward: the next step reuses them, with the same gradient", () => {
  const x = tensor(Array.from({ length: 4 * 4 * 32 * 32 }, (_, i) => Math.sin(i * 0.37)), [4, 4, 32, 32], { requiresGrad: true });
  const gradOf = (): Float32Array => {
    x.grad = null;
    sum(mul(maxPool2d(x, { kernel: 2 }), 3)).backward();
    return x.grad!.dense().slice();
  };
  const fresh = gradOf();
  releaseBufferPool(); // nothing of an earlier test's size waits there
  const before = int32BuffersReused();
  const steps = [reusingBuffers(gradOf), reusingBuffers(gradOf)];
  assert.deepEqual(steps[0], fresh);
  assert.deepEqual(steps[1], fresh);
  assert.equal(int32BuffersReused() - before, 1, "the second step's max-pool got the first one's indices back");
});
