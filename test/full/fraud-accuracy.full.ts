// Full-accuracy runs of the fraud recipe (npm run test:full; not part of CI): the default budget
// reaches the recipe's bar, PR-AUC >= 0.80 on the test days of the synthetic transactions, above
// logistic regression on the same split, on one process and on two data-parallel workers with
// identical replicas; and the real sensor-anomaly set gets a PR-AUC (reported, no bar).
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { test } from "node:test";
import { trainRecipe } from "./train-recipe.js";

const train = (args: string[]): Record<string, unknown> => trainRecipe("fraud", args, 1_200_000);

test("weft train fraud reaches PR-AUC 0.80 and beats logistic regression", () => {
  const r = train([]);
  assert.ok((r.pr_auc as number) >= 0.8, `PR-AUC ${r.pr_auc}`);
  assert.ok((r.pr_auc as number) > (r.lr_pr_auc as number), `PR-AUC ${r.pr_auc} against logistic regression's ${r.lr_pr_auc}`);
  assert.ok((r.recall_at_1pct_fpr as number) > 0.5, `recall at 1% FPR ${r.recall_at_1pct_fpr}`);
});

test("weft train fraud --workers 2 reaches PR-AUC 0.80 with identical replicas", () => {
  const r = train(["--workers", "2"]);
  try {
    assert.equal(r.replicas_identical, true);
    assert.ok((r.pr_auc as number) >= 0.8, `PR-AUC ${r.pr_auc}`);
  } finally {
    rmSync(r.run_dir as string, { recursive: true, force: true });
  }
});

test("weft train fraud --data sensors reports a PR-AUC on the real sensor anomalies", () => {
  const r = train(["--data", "sensors"]);
  assert.ok((r.pr_auc as number) > 0.1 && (r.lr_pr_auc as number) > 0.1, `PR-AUC ${r.pr_auc}, logistic ${r.lr_pr_auc}`);
});
