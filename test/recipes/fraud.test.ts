// The fraud recipe through the `weft` command on a budget of a few steps (one process; two
// workers under local SGD; the sensor data), its logistic baseline at the optimum, and its
// options refused with one line.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type { FeatureTable } from "../../src/data/fraud-features.js";
import { fitLogistic, logisticGradient, logisticScores } from "../../src/recipes/fraud-logistic.js";
import { Rng } from "../../src/util/rng.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

function trainFraud(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [weft, "train", "fraud", ...args], { cwd: root, encoding: "utf8", timeout: 120_000 });
}

function lastJson(run: { status: number | null; stdout: string; stderr: string }): Record<string, number | string> {
  assert.equal(run.status, 0, `weft train fraud failed:\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split("\n").pop()!) as Record<string, number | string>;
}

test("weft train fraud --max-steps 3 --json ends with metric pr_auc beside the logistic baseline, and writes the curves", () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-fraud-"));
  try {
    const r = lastJson(trainFraud(["--max-steps", "3", "--curves", join(dir, "curves.json"), "--json"]));
    assert.equal(r.recipe, "fraud");
    assert.equal(r.metric, "pr_auc");
    assert.equal(r.value, r.pr_auc);
    assert.equal(r.steps, 3);
    assert.deepEqual([r.test_rows, r.test_positives, r.train_rows], [33_873, 181, 101_316]);
    for (const k of ["pr_auc", "roc_auc", "recall_at_1pct_fpr", "lr_pr_auc", "lr_roc_auc", "lr_recall_at_1pct_fpr"]) {
      assert.ok((r[k] as number) >= 0 && (r[k] as number) <= 1, `${k} ${r[k]}`);
    }
    // The baseline does not depend on training: it is well above the 0.5% a random ranking scores.
    assert.ok((r.lr_pr_auc as number) > 0.5, `lr_pr_auc ${r.lr_pr_auc}`);
    const curves = JSON.parse(readFileSync(join(dir, "curves.json"), "utf8")) as { network: number[][]; baseline: number[][] };
    assert.equal(curves.baseline.at(-1)![0], 1, "the last point has recall 1");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("weft train fraud --workers 2 --strategy local-sgd trains a few steps and reports the metric", () => {
  const r = lastJson(trainFraud(["--workers", "2", "--strategy", "local-sgd", "--max-steps", "4", "--customers", "300", "--json"]));
  assert.equal(r.strategy, "local-sgd");
  assert.equal(r.workers, 2);
  assert.equal(r.steps, 4);
  assert.equal(r.metric, "pr_auc");
  assert.ok(Number.isFinite(r.pr_auc as number));
});

test("weft train fraud --data sensors runs on the real sensor readings, split by mote", () => {
  const r = lastJson(trainFraud(["--data", "sensors", "--max-steps", "3", "--json"]));
  assert.deepEqual([r.test_rows, r.test_positives, r.train_rows], [9458, 32, 9456]);
  assert.ok(Number.isFinite(r.pr_auc as number) && Number.isFinite(r.lr_pr_auc as number));
});

test("bad options are refused with one line that names the option", () => {
  for (const [args, message] of [
    [["--data", "bank"], /--data must be one of synthetic, sensors/],
    [["--customers", "3"], /--customers must be an integer from 10/],
    [["--transactions", join(root, "no-such.csv")], /no-such\.csv does not exist/],
    [["--data", "sensors", "--transactions", "x.csv"], /pass one of them/],
  ] as const) {
    const run = trainFraud([...args, "--max-steps", "1", "--json"]);
    assert.notEqual(run.status, 0, `${args.join(" ")} was accepted`);
    assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
    assert.match(run.stderr, message);
  }
});

test("logistic regression reaches the penalized optimum: its gradient vanishes, and it ranks what it should", () => {
  // Two numeric features (the second pure noise) and one categorical of 3 values; y depends on x0 and the category.
  const rng = new Rng(1);
  const n = 400;
  const numeric = new Float32Array(n * 2), categorical = new Int32Array(n), label = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    numeric[2 * i] = rng.normal();
    numeric[2 * i + 1] = rng.normal();
    categorical[i] = rng.int(3);
    const z = 2 * numeric[2 * i]! + (categorical[i] === 2 ? 1.5 : 0) - 1;
    label[i] = rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  const t: FeatureTable = { numeric, features: 2, categorical, categoricalSizes: [3], label, length: n, names: ["x0", "x1"] };
  const m = fitLogistic(t);
  assert.ok(m.steps < 20, `${m.steps} Newton steps`);
  for (const g of logisticGradient(m, t)) assert.ok(Math.abs(g) < 1e-6, `gradient ${g}`);
  assert.ok(m.weights[0]! > 1 && Math.abs(m.weights[1]!) < 0.5, `weights ${[...m.weights]}`);
  assert.ok(m.weights[2 + 2]! > m.weights[2 + 0]!, "category 2 should weigh more than category 0");
  const p = logisticScores(m, t);
  assert.ok(p.every((x) => x > 0 && x < 1));
});
