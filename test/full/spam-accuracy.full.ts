// Full-accuracy runs of the spam recipe (npm run test:full; minutes, not part of CI): the default
// budget reaches the recipe's quality bar, spam F1 >= 0.95 on the fixed test split, on one process
// and on two data-parallel workers whose replicas end bitwise identical, and beats the naive
// Bayes baseline counted on the same split.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { test } from "node:test";
import { trainRecipe } from "./train-recipe.js";

const train = (args: string[]): Record<string, unknown> => trainRecipe("spam", args, 1_200_000);

test("weft train spam reaches spam F1 0.95 and beats naive Bayes", () => {
  const r = train([]);
  assert.ok((r.spam_f1 as number) >= 0.95, `spam F1 ${r.spam_f1}`);
  assert.ok((r.spam_f1 as number) > (r.nb_f1 as number), `spam F1 ${r.spam_f1} against naive Bayes ${r.nb_f1}`);
});

test("weft train spam --workers 2 reaches spam F1 0.95 with identical replicas", () => {
  const r = train(["--workers", "2"]);
  try {
    assert.equal(r.replicas_identical, true);
    assert.ok((r.spam_f1 as number) >= 0.95, `spam F1 ${r.spam_f1}`);
  } finally {
    rmSync(r.run_dir as string, { recursive: true, force: true });
  }
});
