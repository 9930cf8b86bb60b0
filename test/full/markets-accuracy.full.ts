// Full runs of the markets recipe (npm run test:full; not part of CI): with the default budget the
// volatility forecast beats both naive baselines on the test days (vol_mae below persistence_mae
// and ma_mae) on one process and on two data-parallel workers whose replicas end bitwise
// identical. The direction has no bar (docs/recipes/markets.md says why); only that it is scored.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { test } from "node:test";
import { trainRecipe } from "./train-recipe.js";

const train = (args: string[]): Record<string, unknown> => trainRecipe("markets", args, 900_000);

function beatsBoth(r: Record<string, unknown>): void {
  const v = r.vol_mae as number;
  assert.ok(v < (r.persistence_mae as number), `vol_mae ${v} vs persistence_mae ${r.persistence_mae}`);
  assert.ok(v < (r.ma_mae as number), `vol_mae ${v} vs ma_mae ${r.ma_mae}`);
  assert.equal(r.direction_calls, 1424);
  assert.ok((r.direction_accuracy as number) > 0 && (r.direction_accuracy as number) < 1);
}

test("weft train markets forecasts volatility better than persistence and the 20-day average", () => {
  beatsBoth(train([]));
});

test("weft train markets --workers 2 does too, with identical replicas", () => {
  const r = train(["--workers", "2"]);
  try {
    assert.equal(r.replicas_identical, true);
    beatsBoth(r);
  } finally {
    rmSync(r.run_dir as string, { recursive: true, force: true });
  }
});
