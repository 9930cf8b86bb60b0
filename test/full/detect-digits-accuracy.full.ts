// Full-accuracy runs of the detect-digits recipe (npm run test:full; minutes, not part of CI): the
// default budget reaches the recipe's quality bar, mAP@0.5 >= 0.85 on the test canvases of
// held-out digits, on one process and on two data-parallel workers whose replicas end bitwise
// identical, and beats the ink-blob baseline on the same canvases.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { test } from "node:test";
import { trainRecipe } from "./train-recipe.js";

const train = (args: string[]): Record<string, unknown> => trainRecipe("detect-digits", args, 1_800_000);

function check(r: Record<string, unknown>): void {
  assert.ok((r.test_map50 as number) >= 0.85, `test mAP@0.5 ${r.test_map50}`);
  assert.ok((r.test_map50 as number) > (r.baseline_map50 as number) + 0.1, `mAP ${r.test_map50} against the baseline's ${r.baseline_map50}`);
}

test("weft train detect-digits reaches mAP@0.5 0.85 on the held-out canvases", () => {
  check(train([]));
});

test("weft train detect-digits --workers 2 reaches mAP@0.5 0.85 with identical replicas", () => {
  const r = train(["--workers", "2"]);
  try {
    assert.equal(r.replicas_identical, true);
    check(r);
  } finally {
    rmSync(r.run_dir as string, { recursive: true, force: true });
  }
});
