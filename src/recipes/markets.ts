// markets: next-day volatility and direction of four European stock indices (DAX, SMI, CAC, FTSE)
// from their real daily closes 1991-1998 (R's EuStockMarkets; data/eu-stock-markets.ts), split by
// time: the first 60% of days trained on, the next 20% validation, the last 20% test (Note
// [markets split]). A small LSTM (or `--model tcn`, a temporal CNN) reads the last 20 days'
// returns of all four, scaled by their own moving average (Note [markets features]), and
// forecasts each index's next absolute log-return and whether the next day is up.
//
//   weft train markets                    one process
//   weft train markets --workers 2        data-parallel on 2 workers (ddp)
//   weft train markets --model tcn        a temporal CNN instead of the LSTM
//
// The metric is `vol_mae`, the mean absolute error of the volatility forecast on the test days,
// in percentage points of absolute daily log-return (lower is better). The bar: below both
// `persistence_mae` (tomorrow's |r| = today's) and `ma_mae` (the 20-day mean of |r|) on the same
// days; `har_mae` (a least-squares HAR model) is beside them as the econometric yardstick. The
// direction is reported as `direction_accuracy` beside `coin_flip_accuracy` (0.5) and
// `majority_accuracy` (each index's commoner training direction, called every day), with no bar:
// daily index directions are close to unpredictable, and the page says what the figure does and
// does not show.
import {
  loadEuStockMarkets, logReturns, marketSplit, MarketWindows, NO_DIRECTION, type MarketSample,
} from "../data/eu-stock-markets.js";
import { directionAccuracy, meanAbsoluteError, rootMeanSquaredError } from "../metrics/markets-forecast.js";
import { MarketsForecaster, type ForecasterBody, type MarketBatch } from "../models/markets-forecaster.js";
import { AdamW, warmupCosine } from "../optim/index.js";
import { noGrad } from "../tensor/index.js";
import { defineRecipe, type RecipeSettings } from "../train/recipe.js";
import { fitHar, movingAverageForecast, persistenceForecast } from "./markets-baselines.js";

/** The moving average the bar is held against: 20 returns, about a trading month. */
export const MA_DAYS = 20;

const windowOptions = (s: RecipeSettings): { window: number; scaleDays: number } => {
  const window = s.options.window as number, scaleDays = s.options["scale-days"] as number;
  if (scaleDays > window) {
    throw new RangeError(`markets: --scale-days ${scaleDays} is longer than --window ${window}: the scale is averaged over the window's last days; choose --scale-days ${window} or less`);
  }
  return { window, scaleDays };
};

let returnsCache: { returns: Float64Array; series: number } | undefined;

/** The shipped table's log-returns (N, S), computed once per process. */
export function marketReturns(): { returns: Float64Array; series: number } {
  returnsCache ??= { returns: logReturns(loadEuStockMarkets()), series: loadEuStockMarkets().names.length };
  return returnsCache;
}

/**
 * Stacks forecasts into a batch.
 *
 * @example
 * ```ts
 * const one = (v: number) => ({ x: Float32Array.of(v, v), scale: Float32Array.of(v), nextAbs: Float32Array.of(v), nextUp: Int32Array.of(1), origin: 0 });
 * const b = collateForecasts([one(1), one(2)]);
 * assert.deepEqual([b.batch, [...b.x], [...b.scale]], [2, [1, 1, 2, 2], [1, 2]]);
 * ```
 */
export function collateForecasts(samples: readonly MarketSample[]): MarketBatch {
  const n = samples.length;
  const xs = samples[0]!.x.length, s = samples[0]!.scale.length;
  const batch: MarketBatch = { x: new Float32Array(n * xs), scale: new Float32Array(n * s), nextAbs: new Float32Array(n * s), nextUp: new Int32Array(n * s), batch: n };
  samples.forEach((m, i) => {
    batch.x.set(m.x, i * xs);
    batch.scale.set(m.scale, i * s);
    batch.nextAbs.set(m.nextAbs, i * s);
    batch.nextUp.set(m.nextUp, i * s);
  });
  return batch;
}

export const markets = defineRecipe<MarketSample, MarketBatch>({
  name: "markets",
  summary: "next-day volatility and direction of DAX, SMI, CAC, FTSE (real closes 1991-1998, split by time), vol_mae below persistence and the 20-day average",
  defaults: { epochs: 20, batch: 32, lr: 1e-3, seed: 0 },
  options: {
    model: { type: "choice", choices: ["lstm", "tcn"], default: "lstm", help: "what reads the window: an LSTM (its last hidden state) or a temporal CNN (two Conv1d layers)" },
    window: { type: "int", min: 2, max: 250, default: 20, help: "days of returns each forecast reads" },
    "scale-days": { type: "int", min: 1, max: 250, default: 20, help: "days of |r| averaged into the window's scale (at most --window)" },
    width: { type: "int", min: 1, max: 512, default: 16, help: "channels of the CNN's convolutions, or the LSTM's hidden size" },
    kernel: { type: "int", min: 1, max: 64, default: 5, help: "days each of the CNN's two convolutions spans" },
    "direction-weight": { type: "number", min: 0, max: 100, default: 0.5, help: "weight of the up/down cross-entropy beside the volatility error" },
    "weight-decay": { type: "number", min: 0, max: 1, default: 0.01, help: "AdamW's decoupled weight decay" },
    "warmup-steps": { type: "int", min: 0, default: 20, help: "steps of linear learning-rate warm-up before the cosine decay" },
  },
  metric: { name: "vol_mae", higherIsBetter: false },
  data: (s) => {
    const { returns, series } = marketReturns();
    return { train: new MarketWindows(returns, series, "train", windowOptions(s)), collate: collateForecasts };
  },
  model: (s) => {
    const { series } = marketReturns();
    return new MarketsForecaster({
      series, window: windowOptions(s).window, body: s.options.model as ForecasterBody,
      width: s.options.width as number, kernel: s.options.kernel as number, directionWeight: s.options["direction-weight"] as number,
    });
  },
  loss: (model, batch) => (model as MarketsForecaster).loss(batch),
  samplesIn: (batch) => batch.batch,
  optimizer: (model, s) => new AdamW(model.parameters(), { lr: s.lr, weightDecay: s.options["weight-decay"] as number }),
  schedule: (s, total) => warmupCosine({ peak: s.lr, warmup: s.options["warmup-steps"] as number, total }),
  evaluate: (model, s) => {
    const { returns, series } = marketReturns();
    const test = scoreForecasts(model as MarketsForecaster, new MarketWindows(returns, series, "test", windowOptions(s)));
    const val = scoreForecasts(model as MarketsForecaster, new MarketWindows(returns, series, "validation", windowOptions(s)));
    return { ...test, val_vol_mae: val.vol_mae, val_ma_mae: val.ma_mae, val_direction_accuracy: val.direction_accuracy };
  },
});

/** The model's forecasts for every window of a period, in time order: (windows, S) row-major. */
export function forecastPeriod(model: MarketsForecaster, windows: MarketWindows, batchSize = 256): { volatility: Float32Array; upProbability: Float32Array } {
  const s = windows.series;
  const volatility = new Float32Array(windows.length * s), upProbability = new Float32Array(windows.length * s);
  model.eval();
  noGrad(() => {
    for (let start = 0; start < windows.length; start += batchSize) {
      const n = Math.min(batchSize, windows.length - start);
      const f = model.forecast(collateForecasts(Array.from({ length: n }, (_, i) => windows.get(start + i))));
      volatility.set(f.volatility, start * s);
      upProbability.set(f.upProbability, start * s);
    }
  });
  model.train();
  return { volatility, upProbability };
}

/**
 * The scores of a period's forecasts beside the baselines', on exactly the same (day, index)
 * pairs. Volatility errors are in percentage points (|r| x 100). Directions: a probability above
 * 0.5 calls up; days with no direction (a zero return) are not scored.
 */
export function scoreForecasts(model: MarketsForecaster, windows: MarketWindows): Record<string, number> {
  const { returns, series: s } = windows;
  const f = forecastPeriod(model, windows);
  const n = windows.length * s;
  const truth = new Float64Array(n), persistence = new Float64Array(n), ma = new Float64Array(n), har = new Float64Array(n);
  const up = new Int32Array(n), called = new Int32Array(n), majority = new Int32Array(n);
  const split = marketSplit(returns.length / s);
  const harModel = fitHar(returns, s, Math.max(MA_DAYS, windows.window), split.validationStart);
  // Each index's commoner direction over the training period (ties call up).
  const trainUp = Array.from({ length: s }, (_, k) => {
    let ups = 0, downs = 0;
    for (let j = 0; j < split.validationStart; j++) returns[j * s + k]! > 0 ? ups++ : returns[j * s + k]! < 0 ? downs++ : 0;
    return ups >= downs ? 1 : 0;
  });
  for (let i = 0; i < windows.length; i++) {
    const t = windows.firstOrigin + i;
    for (let k = 0; k < s; k++) {
      const at = i * s + k;
      const next = returns[(t + 1) * s + k]!;
      truth[at] = Math.abs(next) * 100;
      persistence[at] = persistenceForecast(returns, s, t, k) * 100;
      ma[at] = movingAverageForecast(returns, s, t, k, MA_DAYS) * 100;
      har[at] = harModel.forecast(returns, t, k) * 100;
      up[at] = next > 0 ? 1 : next < 0 ? 0 : NO_DIRECTION;
      called[at] = f.upProbability[at]! > 0.5 ? 1 : 0;
      majority[at] = trainUp[k]!;
    }
  }
  const model100 = Float64Array.from(f.volatility, (v) => v * 100);
  const direction = directionAccuracy(called, up, NO_DIRECTION);
  let ups = 0;
  for (const u of up) if (u === 1) ups++;
  return {
    vol_mae: meanAbsoluteError(model100, truth),
    persistence_mae: meanAbsoluteError(persistence, truth),
    ma_mae: meanAbsoluteError(ma, truth),
    har_mae: meanAbsoluteError(har, truth),
    vol_rmse: rootMeanSquaredError(model100, truth),
    persistence_rmse: rootMeanSquaredError(persistence, truth),
    ma_rmse: rootMeanSquaredError(ma, truth),
    har_rmse: rootMeanSquaredError(har, truth),
    direction_accuracy: direction.accuracy,
    coin_flip_accuracy: 0.5,
    majority_accuracy: directionAccuracy(majority, up, NO_DIRECTION).accuracy,
    up_share: ups / direction.scored,
    called_up_share: called.reduce((a, c, i) => a + (up[i] !== NO_DIRECTION && c === 1 ? 1 : 0), 0) / direction.scored,
    direction_calls: direction.scored,
    forecast_days: windows.length,
  };
}
