// Full runs of the gpt-text recipe (npm run test:full; minutes, not part of CI): the default budget
// reaches the recipe's bar, a validation loss of at most 1.75 nats per character and below the
// character 5-gram the recipe counts on the same split, on one process and on two data-parallel
// workers whose replicas end bitwise identical.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { test } from "node:test";
import { trainRecipe } from "./train-recipe.js";

const train = (args: string[]): Record<string, unknown> => trainRecipe("gpt-text", args, 1_800_000);

function assertBar(r: Record<string, unknown>): void {
  const [val, ngram] = [r.val_loss as number, r.ngram_val_loss as number];
  assert.ok(val <= 1.75, `val_loss ${val} nats/char is above the bar of 1.75`);
  assert.ok(val < ngram, `val_loss ${val} is not below the 5-gram's ${ngram}`);
}

test("weft train gpt-text ends at most 1.75 nats/char and below the 5-gram", () => {
  assertBar(train([]));
});

test("weft train gpt-text --workers 2 ends at most 1.75 nats/char and below the 5-gram, replicas identical", () => {
  const r = train(["--workers", "2"]);
  try {
    assert.equal(r.replicas_identical, true);
    assertBar(r);
  } finally {
    rmSync(r.run_dir as string, { recursive: true, force: true });
  }
});
