// Full-accuracy runs of the breast-cancer recipe (npm run test:full; not part of CI): the default
// budget reaches the recipe's quality bar, 97% accuracy averaged over the 5 stratified seeded
// folds, on one process and on two data-parallel workers whose replicas end bitwise identical.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { test } from "node:test";
import { trainRecipe } from "./train-recipe.js";

const train = (args: string[]): Record<string, unknown> => trainRecipe("breast-cancer", args, 600_000);

test("weft train breast-cancer reaches 97% cross-validated accuracy", () => {
  const r = train([]);
  assert.ok((r.cv_accuracy as number) >= 0.97, `cv_accuracy ${r.cv_accuracy}`);
  assert.ok((r.cv_accuracy as number) > (r.majority_accuracy as number) + 0.3);
});

test("weft train breast-cancer --workers 2 reaches 97% with identical replicas", () => {
  const r = train(["--workers", "2"]);
  try {
    assert.equal(r.replicas_identical, true);
    assert.ok((r.cv_accuracy as number) >= 0.97, `cv_accuracy ${r.cv_accuracy}`);
  } finally {
    rmSync(r.run_dir as string, { recursive: true, force: true });
  }
});
