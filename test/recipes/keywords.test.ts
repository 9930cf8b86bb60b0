// The keywords recipe: through the `weft` command on a tiny generated set and a few steps (one
// process, and two workers under ZeRO stage 1), its evaluation on a hand-worked case, its
// augmentation seeded per sample whatever the batch, its layer stack against its loss, and its
// options refused with one-line errors. The full-accuracy runs are test/full/keywords-accuracy.full.ts.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { collateKeywords, maskFeatures, resampleInto, type KeywordAugmentation, type KeywordSample } from "../../src/data/keywords-features.js";
import { fitClip, type KeywordClip } from "../../src/data/keywords.js";
import { layerStackProblem, manualSeed, Module, runLayerStack } from "../../src/nn/index.js";
import { centroidBaseline, evaluateKeywords, keywords, keywordTestFeatures, speechPlanFor } from "../../src/recipes/keywords.js";
import { Tensor } from "../../src/tensor/index.js";
import type { RecipeSettings } from "../../src/train/recipe.js";
import { Rng } from "../../src/util/rng.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");
// Every run of this file generates its tiny set afresh into its own cache.
const cache = mkdtempSync(join(tmpdir(), "weft-keywords-test-"));
after(() => rmSync(cache, { recursive: true, force: true }));
/** One voice a side, one take: 20 words x (6 + 2) accents = 160 clips, 40 of them held out. */
const TINY = ["--voices", "1", "--test-voices", "1", "--takes", "1", "--test-takes", "1"];

function weftTrain(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [weft, "train", "keywords", ...args], { cwd: root, env: { ...process.env, WEFT_CACHE: cache }, encoding: "utf8", timeout: 300_000 });
}

function trainJson(args: string[]): Record<string, unknown> {
  const run = weftTrain([...args, "--json"]);
  assert.equal(run.status, 0, `weft train keywords failed:\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
}

/** The recipe's settings with its defaults, some options changed. */
function settings(options: Record<string, number | string> = {}): RecipeSettings {
  const defaults = Object.fromEntries(Object.entries(keywords.options).map(([k, o]) => [k, "default" in o ? o.default : undefined]));
  return { ...keywords.defaults, options: { ...defaults, ...options } };
}

const isShare = (v: unknown): boolean => typeof v === "number" && v >= 0 && v <= 1;

test("weft train keywords --max-steps 3 --json ends with metric test_accuracy and the noisy figures", () => {
  const r = trainJson([...TINY, "--max-steps", "3"]);
  assert.equal(r.recipe, "keywords");
  assert.equal(r.strategy, "single");
  assert.equal(r.metric, "test_accuracy");
  assert.equal(r.value, r.test_accuracy);
  assert.equal(r.steps, 3);
  assert.equal(r.test_clips, 40);
  assert.equal(r.noisy_snr_db, 10);
  for (const k of ["test_accuracy", "test_macro_f1", "noisy_accuracy", "noisy_pink_accuracy"]) assert.ok(isShare(r[k]), `${k} ${r[k]}`);
  // After three steps the loss is still near ln 20 = 3.0: nothing is learned yet, nothing blew up.
  assert.ok(Math.abs((r.test_loss as number) - Math.log(20)) < 0.5, `test_loss ${r.test_loss}`);
});

test("weft train keywords --workers 2 --strategy zero --stage 1 trains a few steps on the same set", () => {
  const r = trainJson([...TINY, "--workers", "2", "--strategy", "zero", "--stage", "1", "--max-steps", "3"]);
  try {
    assert.equal(r.workers, 2);
    assert.equal(r.strategy, "zero");
    assert.equal(r.steps, 3);
    assert.equal(r.test_clips, 40);
    assert.ok(isShare(r.test_accuracy) && Number.isFinite(r.test_loss as number), `test_accuracy ${r.test_accuracy}, test_loss ${r.test_loss}`);
    assert.equal(r.replicas_identical, true);
  } finally {
    if (typeof r.run_dir === "string") rmSync(r.run_dir, { recursive: true, force: true });
  }
});

test("bad options are refused in one line: out of range, a missing folder", () => {
  for (const [args, message] of [
    [["--voices", "0"], /--voices must be an integer from 1 to 24, got "0"/],
    [["--noise-prob", "1.5"], /--noise-prob/],
    [["--speed-perturb", "-0.1"], /--speed-perturb/],
    [["--data", join(cache, "no-such-folder")], /is not a folder: give a folder of <word>\/<clip>\.wav files/],
  ] as const) {
    const run = weftTrain([...args, "--max-steps", "1"]);
    assert.notEqual(run.status, 0, `${args.join(" ")} was accepted`);
    const lines = run.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `${args.join(" ")}: ${run.stderr}`);
    assert.match(lines[0]!, message);
  }
});

test("evaluation by hand: accuracy and macro F1 of known predictions, clean and noisy", () => {
  // Four clips, two classes; a stand-in model predicts 0, 1, 1, 1 whatever it hears.
  //   class 0: one of two found, nothing else called 0: precision 1, recall 1/2, F1 2/3;
  //   class 1: both found, one false alarm: precision 2/3, recall 1, F1 4/5.
  //   Accuracy 3/4; macro F1 (2/3 + 4/5) / 2 = 11/15.
  class Fixed extends Module {
    forward(x: Tensor): Tensor {
      assert.deepEqual(x.shape, [4, 40, 98]);
      return new Tensor(Float32Array.of(2, 0, 0, 2, 0, 2, 0, 2), [4, 2]);
    }
  }
  const clip = (label: number, i: number): KeywordClip => ({ label, file: `w/${i}.wav`, speaker: `s${i}`, ...fitClip(Float32Array.from({ length: 8000 }, (_, n) => Math.sin(n / (3 + i)))) });
  const r = evaluateKeywords(new Fixed(), [clip(0, 0), clip(0, 1), clip(1, 2), clip(1, 3)], 2, 10);
  assert.equal(r.test_accuracy, 0.75);
  assert.ok(Math.abs(r.test_macro_f1! - 11 / 15) < 1e-12, `macro F1 ${r.test_macro_f1}`);
  assert.equal(r.noisy_accuracy, 0.75);
  assert.equal(r.noisy_pink_accuracy, 0.75);
  // Cross-entropy of logits (2, 0) on the right class: ln(1 + e^-2); on the wrong one: ln(1 + e^2).
  const expectedLoss = (3 * Math.log(1 + Math.exp(-2)) + Math.log(1 + Math.exp(2))) / 4;
  assert.ok(Math.abs(r.test_loss! - expectedLoss) < 1e-6, `test_loss ${r.test_loss} vs ${expectedLoss}`);
  assert.equal(r.test_clips, 4);
});

test("augmentation is seeded per sample: a clip comes out the same in any batch, and differs between epochs", () => {
  const rng = new Rng(2);
  const samples: KeywordSample[] = Array.from({ length: 3 }, (_, i) => {
    const { samples: x, speechPower } = fitClip(Float32Array.from({ length: 12000 }, () => rng.normal() * (i + 1)));
    return { x, y: i, speechPower };
  });
  const augment: KeywordAugmentation = { shiftSamples: 1600, speed: 0.15, noiseProbability: 0.5, snrDb: [0, 20], freqMasks: 2, freqMaskWidth: 6, timeMasks: 2, timeMaskWidth: 12 };
  const c = collateKeywords({ augment });
  const epochRng = (epoch: number) => new Rng(0).fork(epoch);
  const context = (epoch: number, indices: number[]) => ({ epoch, batch: 0, indices: Int32Array.from(indices), sampleRng: (k: number) => epochRng(epoch).fork(indices[k]!) });
  const all = c(samples, context(0, [0, 1, 2]));
  const alone = c([samples[1]!], context(0, [1]));
  const size = 40 * 98;
  assert.deepEqual(alone.x, all.x.subarray(size, 2 * size));
  assert.notDeepEqual(c([samples[1]!], context(1, [1])).x, alone.x);
  assert.deepEqual(all.xShape, [3, 40, 98]);
});

test("speed and shift by hand, and masks cover the runs they draw", () => {
  const x = Float32Array.of(0, 1, 2, 3, 4, 5, 6);
  // Centre 3; rate 0.5 stretches: target[n] = x(3 + (n - 3) / 2).
  assert.deepEqual([...resampleInto(x, 0.5, 0, new Float32Array(7))], [1.5, 2, 2.5, 3, 3.5, 4, 4.5]);
  // A shift of -2 at rate 1 moves the clip two samples earlier, zero-filled.
  assert.deepEqual([...resampleInto(x, 1, -2, new Float32Array(7))], [2, 3, 4, 5, 6, 0, 0]);
  const a: KeywordAugmentation = { shiftSamples: 0, speed: 0, noiseProbability: 0, snrDb: [0, 0], freqMasks: 1, freqMaskWidth: 2, timeMasks: 1, timeMaskWidth: 3 };
  for (let seed = 0; seed < 50; seed++) {
    const f = maskFeatures(new Float32Array(4 * 10).fill(1), 4, 10, a, new Rng(seed));
    const zeroBands = [0, 1, 2, 3].filter((b) => f.subarray(b * 10, b * 10 + 10).every((v) => v === 0)).length;
    const zeroFrames = Array.from({ length: 10 }, (_, t) => t).filter((t) => [0, 1, 2, 3].every((b) => f[b * 10 + t] === 0)).length;
    assert.ok(zeroBands <= 2 && zeroFrames <= 3 + (zeroBands === 4 ? 10 : 0), `seed ${seed}: ${zeroBands} bands, ${zeroFrames} frames masked`);
  }
});

test("the options choose the plan: voices and takes cut the default plan down, its held-out side stays held out", () => {
  const plan = speechPlanFor(settings({ voices: 3, "test-voices": 2, takes: 2, "test-takes": 1 }));
  assert.deepEqual(plan.trainVariants, ["", "m1", "m2"]);
  assert.deepEqual(plan.testVariants, ["m6", "m7"]);
  assert.deepEqual([plan.trainTakes, plan.testTakes], [2, 1]);
  assert.deepEqual(plan.testAccents, ["en-gb-scotland", "en-029"]);
});

test("the layer stack computes the recipe's loss, bit for bit", () => {
  const s = settings({ width: 8 });
  manualSeed(4);
  const model = keywords.model(s);
  model.eval(); // dropout off, so both paths see the same network
  const rng = new Rng(6);
  const x = Float32Array.from({ length: 4 * 40 * 98 }, () => rng.normal());
  const batch = { x, xShape: [4, 40, 98], y: Int32Array.of(0, 5, 19, 7), indices: Int32Array.of(0, 1, 2, 3) };
  const stack = keywords.layers!(model, s);
  assert.equal(layerStackProblem(model, stack), undefined);
  assert.equal(runLayerStack(stack, batch).item(), keywords.loss(model, batch).item());
  assert.equal(keywords.samplesIn(batch), 4);
});

test("the nearest-centroid baseline by hand: a clip equal to its class's only training clip is found, centroids are means", () => {
  const clip = (label: number, hz: number): KeywordClip => ({ label, file: `w/${hz}.wav`, speaker: `s${hz}`, ...fitClip(Float32Array.from({ length: 8000 }, (_, n) => Math.sin((2 * Math.PI * hz * n) / 16000))) });
  const [low, high, mid] = [clip(0, 300), clip(1, 3000), clip(1, 1500)];
  const baseline = centroidBaseline([low, high], 2);
  // Each class has one clip: its centroid is that clip's features, at distance 0 from itself.
  assert.equal(baseline.accuracy([low, high]), 1);
  assert.equal(baseline.accuracy([{ ...low, label: 1 }]), 0);
  // Two clips of a class: the centroid is their mean, value for value.
  const two = centroidBaseline([low, high, mid], 2);
  const f = keywordTestFeatures([high, mid]);
  const size = 40 * 98;
  for (const j of [0, 17, 1234, size - 1]) assert.ok(Math.abs(two.centroids[1]![j]! - (f.x[j]! + f.x[size + j]!) / 2) < 1e-6, `value ${j}`);
});
