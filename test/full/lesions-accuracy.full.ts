// Full-accuracy runs of the lesions recipe (npm run test:full; minutes, not part of CI): the
// default budget reaches the recipe's quality bar, a mean per-image Dice of 0.85 on the 512 test
// phantoms, on one process and on two data-parallel workers whose replicas end bitwise identical.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { test } from "node:test";
import { trainRecipe } from "./train-recipe.js";

const train = (args: string[]): Record<string, unknown> => trainRecipe("lesions", args, 1_800_000);

test("weft train lesions reaches a mean Dice of 0.85, well above the threshold baseline", () => {
  const r = train([]);
  assert.ok((r.dice as number) >= 0.85, `dice ${r.dice}`);
  assert.ok((r.dice as number) > (r.threshold_dice as number) + 0.1, `dice ${r.dice} against the baseline's ${r.threshold_dice}`);
});

test("weft train lesions --workers 2 reaches 0.85 with identical replicas", () => {
  const r = train(["--workers", "2"]);
  try {
    assert.equal(r.replicas_identical, true);
    assert.ok((r.dice as number) >= 0.85, `dice ${r.dice}`);
  } finally {
    rmSync(r.run_dir as string, { recursive: true, force: true });
  }
});
