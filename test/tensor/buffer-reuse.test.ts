// Reusing a step's buffers (Note [reusing a step's buffers] in src/tensor/storage.ts) changes no
// bit of training: every recipe's model after a few steps of fit() is the same with and without
// it, and the pool was used. A tensor kept past its step without detach() says so when read,
// instead of reading another tensor's numbers; detach() keeps it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCommandLine } from "../../src/cli/options.js";
import { modelDigest } from "../../src/distributed/strategies/flat-state.js";
import { RECIPES } from "../../src/recipes/index.js";
import { fit } from "../../src/train/fit.js";
import type { Recipe } from "../../src/train/recipe.js";
import { buildRecipeParts } from "../../src/train/run-recipe.js";
import { buffersReused } from "../../src/tensor/storage.js";
import { conv2d, relu, reusingBuffers, sum, tensor, type Tensor } from "../../src/tensor/index.js";

const STEPS = 3;
const ALL_SMALL = new Set(["breast-cancer"]);

async function digestAfterSteps(recipe: Recipe, reuseBuffers: boolean): Promise<{ digest: string; losses: number[] }> {
  const options = parseCommandLine([], recipe.options, { command: `weft train ${recipe.name}` }).values;
  const settings = { ...recipe.defaults, maxSteps: STEPS, options };
  const { model, optimizer, schedule, data } = buildRecipeParts(recipe, settings, 0, 1);
  const losses: number[] = [];
  await fit({
    model, optimizer, schedule, data, maxSteps: STEPS, reuseBuffers,
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
