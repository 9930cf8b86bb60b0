// The breast-cancer recipe: through the `weft` command on a budget of a few steps (one process,
// and two workers under ZeRO stage 1), its cross-validation scores against a hand-worked table,
// the claim of Note [five folds in one run] (MLP k learns nothing from fold k), and bad options.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadBreastCancer, type BreastCancerTable } from "../../src/data/breast-cancer.js";
import { FoldMlps, type FoldBatch } from "../../src/models/breast-cancer-mlp.js";
import { manualSeed } from "../../src/nn/index.js";
import { breastCancer, breastCancerFolds, collateRows, crossValidate } from "../../src/recipes/breast-cancer.js";
import type { RecipeSettings } from "../../src/train/recipe.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

function train(args: string[]): Record<string, unknown> {
  const run = spawnSync(process.execPath, [weft, "train", "breast-cancer", ...args, "--json"], { cwd: root, encoding: "utf8", timeout: 120_000 });
  assert.equal(run.status, 0, `weft train breast-cancer failed:\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
}

function settings(options: Record<string, number> = {}): RecipeSettings {
  const defaults = Object.fromEntries(Object.entries(breastCancer.options).map(([k, o]) => [k, "default" in o ? o.default : undefined]));
  return { ...breastCancer.defaults, options: { ...defaults, ...options } };
}

const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);

test("weft train breast-cancer --max-steps 3 --json ends with metric cv_accuracy, the mean of the five folds' accuracies", () => {
  const r = train(["--max-steps", "3"]);
  assert.equal(r.recipe, "breast-cancer");
  assert.equal(r.metric, "cv_accuracy");
  assert.equal(r.steps, 3);
  assert.equal(r.value, r.cv_accuracy);
  const folds = [0, 1, 2, 3, 4].map((k) => r[`fold${k}_accuracy`] as number);
  close(r.cv_accuracy as number, folds.reduce((a, b) => a + b, 0) / 5, "cv_accuracy");
  for (const key of ["malignant_recall", "malignant_precision", "benign_recall", "pooled_accuracy"]) {
    assert.ok((r[key] as number) >= 0 && (r[key] as number) <= 1, `${key} ${r[key]}`);
  }
  // The majority (benign) baseline by hand, from the fold sizes of test/data/breast-cancer.test.ts.
  close(r.majority_accuracy as number, (71 / 114 + 71 / 114 + 72 / 114 + 72 / 114 + 71 / 113) / 5, "majority_accuracy");
});

test("two workers under ZeRO stage 1 train the recipe and end with identical replicas", () => {
  const r = train(["--workers", "2", "--strategy", "zero", "--stage", "1", "--max-steps", "4"]);
  try {
    assert.equal(r.strategy, "zero");
    assert.equal(r.workers, 2);
    assert.equal(r.steps, 4);
    assert.equal(r.metric, "cv_accuracy");
    assert.ok(Number.isFinite(r.value as number));
    assert.equal(r.replicas_identical, true);
  } finally {
    rmSync(r.run_dir as string, { recursive: true, force: true });
  }
});

test("a few epochs on one process already beat the majority class by far", () => {
  const r = train(["--epochs", "5"]);
  assert.ok((r.cv_accuracy as number) > 0.85, `cv_accuracy ${r.cv_accuracy} after 5 epochs`);
});

test("crossValidate on a hand-worked table: fold accuracies, out-of-fold recall and precision, the majority baseline", () => {
  // Six tumours, two folds; the stand-in model predicts benign when feature 0 is 1.
  //   row:     0  1  2 | 3  4  5
  //   fold:    0  0  0 | 1  1  1
  //   label:   0  1  0 | 1  1  0      (0 malignant, 1 benign)
  //   feature: 0  1  1 | 0  1  1  ->  prediction 0 1 1 | 0 1 1
  // Fold 0: rows 0, 1 right, row 2 wrong: 2/3. Fold 1: row 4 right: 1/3. Mean 1/2, std 1/6.
  // Malignant: rows 0, 2, 5, only row 0 found: recall 1/3; predicted malignant rows 0 and 3: precision 1/2.
  // Benign: rows 1, 3, 4, found 1 and 4: recall 2/3.
  // Majority: fold 0 trains on labels 1, 1, 0 -> benign, right on 1 of its 3; fold 1 trains on
  // 0, 1, 0 -> malignant, right on 1 of 3: 1/3.
  const features = new Float32Array(6 * 30);
  [0, 1, 1, 0, 1, 1].forEach((v, r) => (features[r * 30] = v));
  const table: BreastCancerTable = { rows: 6, features, labels: Int32Array.of(0, 1, 0, 1, 1, 0) };
  const model = { folds: 2, predict: (_k: number, x: Float32Array, n: number) => Int32Array.from({ length: n }, (_, i) => (x[i * 30] === 1 ? 1 : 0)) };
  const s = crossValidate(model as unknown as FoldMlps, table, Int32Array.of(0, 0, 0, 1, 1, 1));
  const expected: Record<string, number> = {
    cv_accuracy: 1 / 2, cv_accuracy_std: 1 / 6, fold0_accuracy: 2 / 3, fold1_accuracy: 1 / 3, pooled_accuracy: 1 / 2,
    malignant_recall: 1 / 3, malignant_precision: 1 / 2, benign_recall: 2 / 3, majority_accuracy: 1 / 3,
  };
  assert.deepEqual(Object.keys(s).sort(), Object.keys(expected).sort());
  for (const [key, value] of Object.entries(expected)) close(s[key]!, value, key);
});

test("Note [five folds in one run]: MLP k's gradients do not depend on fold k's rows, and the loss is the sum of the folds' losses", () => {
  const s = settings();
  const table = loadBreastCancer();
  const folds = breastCancerFolds(5, 0);
  const rows = Array.from({ length: 40 }, (_, i) => i * 13);
  const batch = collateRows(table, folds)(rows);
  // The same batch with every fold-2 row's features and labels scrambled.
  const scrambled: FoldBatch = { ...batch, x: batch.x.slice(), y: batch.y.slice() };
  rows.forEach((_, i) => {
    if (batch.folds[i] !== 2) return;
    for (let j = 0; j < 30; j++) scrambled.x[i * 30 + j] = 1000 * (j % 3) - 7;
    scrambled.y[i] = 1 - batch.y[i]!;
  });
  assert.ok(batch.folds.includes(2), "the batch holds rows of fold 2");
  const grads = (b: FoldBatch): { byName: Map<string, Float32Array>; loss: number; terms: number[] } => {
    manualSeed(5);
    const model = breastCancer.model(s) as FoldMlps;
    const loss = breastCancer.loss(model, b);
    loss.backward();
    const terms = [0, 1, 2, 3, 4].map((k) => model.foldLoss(k, b).item());
    return { byName: new Map(model.namedParameters().map(([n, t]) => [n, t.grad!.dense().slice()])), loss: loss.item(), terms };
  };
  const a = grads(batch), b = grads(scrambled);
  for (const [name, g] of a.byName) {
    if (name.startsWith("fold2.")) assert.deepEqual(b.byName.get(name), g, `${name} moved when only fold 2's rows changed`);
    else assert.notDeepEqual(b.byName.get(name), g, `${name} did not see the changed rows`);
  }
  assert.ok(Math.abs(a.loss - a.terms.reduce((x, y) => x + y, 0)) < 1e-5);
});

test("bad options are refused in one line naming the option and its range", () => {
  for (const [args, message] of [
    [["--folds", "1"], /--folds must be an integer from 2 to 20, got "1"/],
    [["--hidden", "-4"], /--hidden must be an integer from 0 to 4096, got "-4"/],
    [["--weight-decay", "2"], /--weight-decay/],
  ] as const) {
    const run = spawnSync(process.execPath, [weft, "train", "breast-cancer", ...args, "--max-steps", "1"], { cwd: root, encoding: "utf8", timeout: 60_000 });
    assert.equal(run.status, 2, run.stderr);
    assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
    assert.match(run.stderr, message);
  }
});
