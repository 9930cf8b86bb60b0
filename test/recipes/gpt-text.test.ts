// The gpt-text recipe: through the `weft` command on a budget of a few steps, its layer stack
// against its loss, and its n-gram baseline (Note [Witten-Bell n-gram]) by hand and as a
// distribution.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { CharWindows, encodeText, loadMobyDick, TEXT_VOCAB_SIZE } from "../../src/data/index.js";
import { layerStackProblem, manualSeed, runLayerStack } from "../../src/nn/index.js";
import { CharNgram, collateWindows, generateText, gptText } from "../../src/recipes/gpt-text.js";
import type { TinyGpt } from "../../src/models/tiny-gpt.js";
import type { RecipeSettings } from "../../src/train/recipe.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

/** The recipe's settings with its defaults, some options changed. */
function settings(options: Record<string, number> = {}): RecipeSettings {
  const defaults = Object.fromEntries(Object.entries(gptText.options).map(([k, o]) => [k, "default" in o ? o.default : undefined]));
  return { ...gptText.defaults, options: { ...defaults, ...options } };
}

test("weft train gpt-text --max-steps 3 --json ends with metric val_loss, finite, beside the n-gram baseline", () => {
  const run = spawnSync(process.execPath, [weft, "train", "gpt-text", "--max-steps", "3", "--json"], { cwd: root, encoding: "utf8", timeout: 300_000 });
  assert.equal(run.status, 0, `weft train gpt-text failed:\n${run.stderr}`);
  const r = JSON.parse(run.stdout.trim().split("\n").pop()!) as Record<string, number | string>;
  assert.equal(r.recipe, "gpt-text");
  assert.equal(r.metric, "val_loss");
  assert.equal(r.steps, 3);
  assert.equal(r.value, r.val_loss);
  const val = r.val_loss as number;
  assert.ok(Number.isFinite(val) && val > 0, `val_loss ${val}`);
  assert.ok(Math.abs((r.val_bpc as number) - val / Math.LN2) < 1e-12);
  // After 3 steps the model is near uniform (ln 96 = 4.56 nats); the 5-gram is far better.
  assert.ok(val < Math.log(96) + 0.5, `val_loss ${val}`);
  assert.ok((r.ngram_val_loss as number) > 1 && (r.ngram_val_loss as number) < 2, `ngram_val_loss ${r.ngram_val_loss}`);
});

test("the layer stack computes the recipe's loss, bit for bit, and holds every parameter once", () => {
  const s = settings({ layers: 2, dim: 32, heads: 2, context: 16 });
  manualSeed(3);
  const model = gptText.model(s);
  const windows = new CharWindows(loadMobyDick().train, { context: 16, count: 100 });
  const batch = collateWindows([5, 50, 95, 7].map((i) => windows.get(i)));
  const stack = gptText.layers!(model, s);
  assert.equal(layerStackProblem(model, stack), undefined);
  assert.deepEqual(stack.layers.map((l) => l.name), ["embed", "blocks.0", "blocks.1", "head"]);
  assert.equal(runLayerStack(stack, batch).item(), gptText.loss(model, batch).item());
  assert.equal(gptText.samplesIn(batch), 4);
});

test("collateWindows reads each window's first context ids and targets its last", () => {
  const b = collateWindows([encodeText("Ahab!"), encodeText("whale")].map((w) => Int32Array.from(w)));
  assert.deepEqual([b.batch, b.time], [2, 4]);
  assert.deepEqual([...b.tokens], [...encodeText("Ahabwhal")]);
  assert.deepEqual([...b.targets], [...encodeText("hab!hale")]);
});

test("the model's options are checked: --dim must be a multiple of --heads", () => {
  assert.throws(() => gptText.model(settings({ dim: 30, heads: 4 })), /--dim 30 is not a multiple of --heads 4/);
});

test("the n-gram baseline by hand: a bigram on 'abab' over three symbols", () => {
  // Unigram (history ""): C(a) = C(b) = 2, T = 2, below it uniform 1/3:
  //   P(a) = P(b) = (2 + 2/3) / 6 = 4/9, P(c) = (2/3) / 6 = 1/9.
  // After "a": C(a, b) = 2, T(a) = 1: P(b|a) = (2 + 4/9) / 3 = 22/27, P(a|a) = 4/27, P(c|a) = 1/27.
  // After "b": C(b, a) = 1, T(b) = 1: P(a|b) = (1 + 4/9) / 2 = 13/18, P(b|b) = 4/18, P(c|b) = 1/18.
  // After "c" (never seen): the unigram.
  const ngram = new CharNgram(Int32Array.of(0, 1, 0, 1), { order: 2, vocab: 3 });
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
  [4 / 9, 4 / 9, 1 / 9].forEach((p, c) => close(ngram.probability([], c), p));
  [4 / 27, 22 / 27, 1 / 27].forEach((p, c) => close(ngram.probability([0], c), p));
  [13 / 18, 4 / 18, 1 / 18].forEach((p, c) => close(ngram.probability([1, 1, 1], c), p));
  [4 / 9, 4 / 9, 1 / 9].forEach((p, c) => close(ngram.probability([2], c), p));
  // The window "aba": targets b after a and a after b.
  const windows = { length: 1, get: () => Int32Array.of(0, 1, 0) };
  close(ngram.meanLoss(windows), -(Math.log(22 / 27) + Math.log(13 / 18)) / 2);
  assert.throws(() => ngram.probability([0], 3), /id 3 at position 1 is outside the vocabulary 0\.\.2/);
});

test("the n-gram baseline is a distribution over the vocabulary for seen and unseen histories", () => {
  const ngram = new CharNgram(loadMobyDick().train, { order: 5, vocab: TEXT_VOCAB_SIZE });
  for (const history of ["", "Ahab", "the whal", "Call me Ishmae", "~~~~", "q", "zqx|"]) {
    const p = ngram.distribution(encodeText(history));
    const sum = p.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-9, `after ${JSON.stringify(history)} the probabilities sum to ${sum}`);
    assert.ok(p.every((x) => x > 0), "no character has probability 0");
  }
  // It has learned something: after "the whal", "e" is the likeliest character.
  const p = ngram.distribution(encodeText("the whal"));
  assert.equal(p.indexOf(Math.max(...p)), encodeText("e")[0]);
});

test("generateText: greedy is deterministic, sampling is reproducible from its seed, prompts may exceed the context", () => {
  manualSeed(1);
  const model = gptText.model(settings({ layers: 1, dim: 16, heads: 2, context: 8 })) as TinyGpt;
  const prompt = "Call me Ishmael. Some years ago";
  assert.equal(generateText(model, prompt, 20, { temperature: 0 }), generateText(model, prompt, 20, { temperature: 0 }));
  const a = generateText(model, prompt, 40, { temperature: 1, seed: 7 });
  assert.equal(a.length, 40);
  assert.equal(generateText(model, prompt, 40, { temperature: 1, seed: 7 }), a);
  assert.notEqual(generateText(model, prompt, 40, { temperature: 1, seed: 8 }), a);
  assert.throws(() => generateText(model, "", 1), /the prompt is empty/);
});
