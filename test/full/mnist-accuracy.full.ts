// Full-accuracy runs of the MNIST recipe (npm run test:full; minutes, not part of CI): the
// default budget reaches the recipe's quality bar, 99% test accuracy, on one process and on two
// data-parallel workers whose replicas end bitwise identical.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { test } from "node:test";
import { trainRecipe } from "./train-recipe.js";

const train = (args: string[]): Record<string, unknown> => trainRecipe("mnist", args, 1_200_000);

test("weft train mnist reaches 99% test accuracy", () => {
  const r = train([]);
  assert.ok((r.test_accuracy as number) >= 0.99, `test accuracy ${r.test_accuracy}`);
});

test("weft train mnist --workers 2 reaches 99% with identical replicas", () => {
  const r = train(["--workers", "2"]);
  try {
    assert.equal(r.replicas_identical, true);
    assert.ok((r.test_accuracy as number) >= 0.99, `test accuracy ${r.test_accuracy}`);
  } finally {
    rmSync(r.run_dir as string, { recursive: true, force: true });
  }
});
