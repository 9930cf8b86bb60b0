// The markets recipe: through the `weft` command on a budget of a few steps (one process, and two
// workers under local SGD), its baselines against an independent computation from the CSV, a
// model that has learned nothing scoring exactly the moving average, the HAR fit, and bad options.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { MarketWindows } from "../../src/data/eu-stock-markets.js";
import type { MarketsForecaster } from "../../src/models/markets-forecaster.js";
import { manualSeed } from "../../src/nn/index.js";
import { fitHar, movingAverageForecast } from "../../src/recipes/markets-baselines.js";
import { marketReturns, markets, scoreForecasts } from "../../src/recipes/markets.js";
import type { RecipeSettings } from "../../src/train/recipe.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

function train(args: string[]): Record<string, unknown> {
  const run = spawnSync(process.execPath, [weft, "train", "markets", ...args, "--json"], { cwd: root, encoding: "utf8", timeout: 120_000 });
  assert.equal(run.status, 0, `weft train markets failed:\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
}

function settings(options: Record<string, number | string> = {}): RecipeSettings {
  const defaults = Object.fromEntries(Object.entries(markets.options).map(([k, o]) => [k, "default" in o ? o.default : undefined]));
  return { ...markets.defaults, options: { ...defaults, ...options } };
}

/**
 * The test period's baselines computed straight from the CSV, sharing no code with the recipe:
 * the last 372 returns (targets 1487..1858) of each index, persistence |r[t]| and the 20-day mean.
 */
function baselinesFromCsv(): { persistence: number; ma: number; upShare: number; calls: number; majority: number } {
  const rows = readFileSync(join(root, "data/eustockmarkets.csv"), "utf8").trim().split("\n").slice(1).map((l) => l.split(",").slice(2).map(Number));
  const r = rows.slice(1).map((row, i) => row.map((p, k) => Math.log(p / rows[i]![k]!)));
  let pers = 0, ma = 0, n = 0, ups = 0, calls = 0, majorityRight = 0;
  for (let k = 0; k < 4; k++) {
    let trainUps = 0, trainDowns = 0;
    for (let j = 0; j < 1115; j++) r[j]![k]! > 0 ? trainUps++ : r[j]![k]! < 0 ? trainDowns++ : 0;
    for (let j = 1487; j < 1859; j++) {
      const y = Math.abs(r[j]![k]!) * 100;
      pers += Math.abs(Math.abs(r[j - 1]![k]!) * 100 - y);
      let m = 0;
      for (let d = j - 20; d < j; d++) m += Math.abs(r[d]![k]!);
      ma += Math.abs((m / 20) * 100 - y);
      n++;
      if (r[j]![k] !== 0) {
        calls++;
        if (r[j]![k]! > 0) ups++;
        if ((r[j]![k]! > 0) === (trainUps >= trainDowns)) majorityRight++;
      }
    }
  }
  return { persistence: pers / n, ma: ma / n, upShare: ups / calls, calls, majority: majorityRight / calls };
}

const close = (a: unknown, b: number, what: string, tol = 1e-9): void => assert.ok(Math.abs((a as number) - b) < tol, `${what}: ${a} vs ${b}`);

test("weft train markets --max-steps 3 --json ends with metric vol_mae beside baselines that match the CSV", () => {
  const r = train(["--max-steps", "3"]);
  assert.equal(r.recipe, "markets");
  assert.equal(r.metric, "vol_mae");
  assert.equal(r.value, r.vol_mae);
  assert.equal(r.steps, 3);
  assert.ok(Number.isFinite(r.vol_mae as number) && (r.vol_mae as number) > 0);
  const b = baselinesFromCsv();
  close(r.persistence_mae, b.persistence, "persistence_mae");
  close(r.ma_mae, b.ma, "ma_mae");
  close(r.up_share, b.upShare, "up_share");
  close(r.majority_accuracy, b.majority, "majority_accuracy");
  assert.equal(r.direction_calls, b.calls);
  assert.equal(r.forecast_days, 372);
  assert.equal(r.coin_flip_accuracy, 0.5);
  assert.ok((r.direction_accuracy as number) >= 0 && (r.direction_accuracy as number) <= 1);
});

test("two workers under local SGD train the recipe for a few steps", () => {
  const r = train(["--workers", "2", "--strategy", "local-sgd", "--max-steps", "4"]);
  try {
    assert.equal(r.strategy, "local-sgd");
    assert.equal(r.workers, 2);
    assert.equal(r.steps, 4);
    assert.equal(r.metric, "vol_mae");
    assert.ok(Number.isFinite(r.value as number));
  } finally {
    rmSync(r.run_dir as string, { recursive: true, force: true });
  }
});

test("a forecaster whose head outputs zeros is the 20-day moving average, day for day, and calls every day down", () => {
  for (const model of ["lstm", "tcn"]) {
    const s = settings({ model });
    manualSeed(0);
    const m = markets.model(s) as MarketsForecaster;
    m.head.weight.dense().fill(0);
    m.head.bias!.dense().fill(0);
    const { returns, series } = marketReturns();
    const scores = scoreForecasts(m, new MarketWindows(returns, series, "test", { window: 20, scaleDays: 20 }));
    // exp(0) = 1: the forecast is the window's scale, the same 20-day mean in float32.
    close(scores.vol_mae, scores.ma_mae!, `${model}: vol_mae`, 1e-6);
    assert.equal(scores.called_up_share, 0, "a probability of exactly 0.5 is not a call of up");
    close(scores.direction_accuracy, 1 - scores.up_share!, `${model}: direction_accuracy`);
  }
});

test("a few epochs of the default model beat both naive baselines on the test days", () => {
  const r = train(["--epochs", "3"]);
  assert.ok((r.vol_mae as number) < (r.ma_mae as number), `vol_mae ${r.vol_mae} vs ma_mae ${r.ma_mae}`);
  assert.ok((r.vol_mae as number) < (r.persistence_mae as number), `vol_mae ${r.vol_mae} vs persistence_mae ${r.persistence_mae}`);
});

test("the HAR baseline is a least-squares fit: residuals orthogonal to its regressors, in-sample no worse than the 20-day mean", () => {
  const { returns, series } = marketReturns();
  const har = fitHar(returns, series, 20, 1115);
  for (let k = 0; k < series; k++) {
    let harSq = 0, maSq = 0;
    const dot = [0, 0, 0, 0];
    for (let j = 20; j < 1115; j++) {
      const y = Math.abs(returns[j * series + k]!);
      const e = y - har.forecast(returns, j - 1, k);
      harSq += e * e;
      maSq += (y - movingAverageForecast(returns, series, j - 1, k, 20)) ** 2;
      const f = [1, Math.abs(returns[(j - 1) * series + k]!), movingAverageForecast(returns, series, j - 1, k, 5), movingAverageForecast(returns, series, j - 1, k, 20)];
      f.forEach((x, a) => (dot[a]! += x * e));
    }
    assert.ok(harSq <= maSq, `index ${k}: HAR ${harSq} vs moving average ${maSq}`);
    for (const d of dot) assert.ok(Math.abs(d) < 1e-12, `index ${k}: a residual correlates with a regressor (${d})`);
  }
});

test("bad options are refused in one line", () => {
  for (const [args, status, message] of [
    [["--model", "gru"], 2, /--model must be one of lstm, tcn, got "gru"/],
    [["--window", "1"], 2, /--window must be an integer from 2 to 250, got "1"/],
    [["--scale-days", "30"], 1, /--scale-days 30 is longer than --window 20: .*choose --scale-days 20 or less/],
    [["--model", "tcn", "--window", "6", "--scale-days", "6", "--kernel", "5"], 1, /a window of 6 days is too short for two convolutions of kernel 5/],
  ] as const) {
    const run = spawnSync(process.execPath, [weft, "train", "markets", ...args, "--max-steps", "1"], { cwd: root, encoding: "utf8", timeout: 60_000 });
    assert.equal(run.status, status, run.stderr);
    assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
    assert.match(run.stderr, message);
  }
});
