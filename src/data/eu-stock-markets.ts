// Daily closing prices of four European stock indices, DAX (Frankfurt), SMI (Zurich), CAC
// (Paris) and FTSE (London), over 1,860 trading days from mid-1991 to mid-1998: R's
// datasets::EuStockMarkets, shipped as data/eustockmarkets.csv (data/README.md). This module
// reads such a table, turns prices into log-returns and cuts them into forecasting windows with
// a chronological split. Everything but loadEuStockMarkets() takes any table of the same shape
// (readEuStockCsv(path)), so a deployment with a longer price history keeps the rest.
//
// Note [markets split]
// Returns are r[i] = ln(P[i+1] / P[i]), i = 0 .. N-1 (N = 1,859 for the shipped table): r[i] is
// known at the close of day i+1. A forecast made at origin t reads the window r[t-W+1 .. t] (W =
// `window` returns, nothing later) and is judged against r[t+1], the next day's return. The split
// is by the target's position in time, fixed whatever the window: targets r[j] with j below
// floor(0.6 N) are training, those below floor(0.8 N) validation, the rest (the last fifth) test.
// For the shipped table that is 1,115 / 372 / 372 target days: training from mid-1991 to
// October 1995, validation to March 1997, test from March 1997 to the end, August 1998 (the
// Asian crisis of October 1997 and the first weeks of the 1998 turmoil included; the table's
// time column counts 260 trading days a year, so these dates are approximate). Nothing random, nothing shuffled across the
// boundary: every origin's inputs are strictly before its target, and every test target is after
// every training target. The one statistic taken from the data, the training returns' standard
// deviation per index (the level feature's unit, Note [markets features]), comes from the
// training targets only.
//
// Note [markets features]
// A window is scaled by its own recent volatility, s_t = the mean of |r| over the last
// `scaleDays` returns of the window (per index, floored at 1e-4 so a run of zero returns does not
// divide by zero): the 20-day moving average baseline itself. The inputs per day of the window
// and per index are r / s_t and |r| / s_t, plus, constant over the window, ln(s_t / sigma_train),
// where sigma_train is the training returns' standard deviation: how calm or stormy the market
// is, in units the test period cannot move. Dividing by s_t makes the shape of the window the same
// in calm and stormy years; the model predicts the next absolute return as s_t times a learned
// factor (models/markets-forecaster.ts), so a model that learned nothing is the moving average.
//
// Zero returns: 26 days of the table have all four returns exactly 0 (days the data carry the
// previous close over), and about 70 more have one. They stay in the volatility targets (every
// forecaster faces them alike) but have no direction: a direction target of 0 is neither up nor
// down and is left out of the direction loss and the direction accuracy.

import { readFileSync } from "node:fs";
import type { Dataset } from "./dataset.js";
import { shippedDataPath } from "./shipped-data.js";

/** A price table: `days` rows of `names.length` closing prices, and each day's time (fractional year). */
export interface PriceTable {
  readonly names: readonly string[];
  readonly days: number;
  /** (days, series) row-major. */
  readonly prices: Float64Array;
  /** The day's date as a fractional year (1991.496...), for plots and for telling the periods apart. */
  readonly time: Float64Array;
}

/**
 * Parses the exported CSV: a header `"day","time",<name>,...` and one row per trading day, the
 * day's number, its time as a fractional year, and one positive closing price per series (R's
 * write.csv of data.frame(day, time, EuStockMarkets)). Quotes around names are dropped.
 *
 * @example
 * ```ts
 * const t = parseEuStockCsv('"day","time","DAX","FTSE"\n1,1991.5,1628.75,2443.6\n2,1991.504,1613.63,2460.2\n');
 * assert.deepEqual([t.names, t.days, t.prices[3]], [["DAX", "FTSE"], 2, 2460.2]);
 * ```
 */
export function parseEuStockCsv(text: string, source = "the table"): PriceTable {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  const header = (lines[0] ?? "").split(",").map((h) => h.trim().replace(/^"|"$/g, ""));
  if (header.length < 3 || header[0] !== "day" || header[1] !== "time") {
    throw new Error(`parseEuStockCsv: ${source} starts with "${lines[0] ?? ""}", expected the header "day","time" and one column per index`);
  }
  const names = header.slice(2);
  const days = lines.length - 1;
  if (days < 2) throw new Error(`parseEuStockCsv: ${source} holds ${days} days of prices; returns need at least 2`);
  const prices = new Float64Array(days * names.length);
  const time = new Float64Array(days);
  for (let d = 0; d < days; d++) {
    const cells = lines[d + 1]!.split(",");
    if (cells.length !== header.length) {
      throw new Error(`parseEuStockCsv: line ${d + 2} of ${source} has ${cells.length} fields, expected ${header.length} (day, time, ${names.join(", ")})`);
    }
    time[d] = Number(cells[1]);
    if (!Number.isFinite(time[d])) throw new Error(`parseEuStockCsv: line ${d + 2} of ${source} has the time "${cells[1]}", not a number`);
    names.forEach((name, k) => {
      const p = Number(cells[k + 2]);
      if (!(p > 0) || !Number.isFinite(p)) {
        throw new Error(`parseEuStockCsv: line ${d + 2} of ${source} has the ${name} price "${cells[k + 2]}": prices must be positive numbers`);
      }
      prices[d * names.length + k] = p;
    });
  }
  return { names, days, prices, time };
}

/** Reads a price table from a file in the shipped format (parseEuStockCsv): a longer export of the same indices, or other series. */
export function readEuStockCsv(path: string): PriceTable {
  return parseEuStockCsv(readFileSync(path, "utf8"), path);
}

/** The shipped data/eustockmarkets.csv, found above this module (from src/ or from dist/src/). */
export function euStockCsvPath(): string {
  return shippedDataPath("eustockmarkets.csv", "readEuStockCsv");
}

let cached: PriceTable | undefined;

/**
 * The shipped table: DAX, SMI, CAC, FTSE over 1,860 days. Read once per process; read-only.
 *
 * @example
 * ```ts
 * const t = loadEuStockMarkets();
 * assert.deepEqual([t.names, t.days], [["DAX", "SMI", "CAC", "FTSE"], 1860]);
 * ```
 */
export function loadEuStockMarkets(): PriceTable {
  cached ??= readEuStockCsv(euStockCsvPath());
  return cached;
}

/**
 * Log-returns r[i] = ln(P[i+1] / P[i]), (days - 1, series) row-major.
 *
 * @example
 * ```ts
 * const r = logReturns({ names: ["A"], days: 3, prices: Float64Array.of(100, 110, 99), time: new Float64Array(3) });
 * assert.deepEqual([...r].map((x) => +x.toFixed(6)), [+Math.log(1.1).toFixed(6), +Math.log(0.9).toFixed(6)]);
 * ```
 */
export function logReturns(table: PriceTable): Float64Array {
  const s = table.names.length;
  const r = new Float64Array((table.days - 1) * s);
  for (let i = 0; i + 1 < table.days; i++) {
    for (let k = 0; k < s; k++) r[i * s + k] = Math.log(table.prices[(i + 1) * s + k]! / table.prices[i * s + k]!);
  }
  return r;
}

/** Where the three periods of Note [markets split] begin, as target positions j of r[j]. */
export interface MarketSplit {
  /** Returns in all (N). */
  returns: number;
  /** First validation target, floor(0.6 N). */
  validationStart: number;
  /** First test target, floor(0.8 N). */
  testStart: number;
}

/**
 * The chronological split of N returns (Note [markets split]).
 *
 * @example The shipped table's 1,859 returns
 * ```ts
 * assert.deepEqual(marketSplit(1859), { returns: 1859, validationStart: 1115, testStart: 1487 });
 * ```
 */
export function marketSplit(returns: number): MarketSplit {
  return { returns, validationStart: Math.floor(0.6 * returns), testStart: Math.floor(0.8 * returns) };
}

export type MarketPeriod = "train" | "validation" | "test";

/** One forecast: the window's features, its scale, and what happened next. */
export interface MarketSample {
  /** (channels = 3 × series, window) row-major (Note [markets features]). */
  x: Float32Array;
  /** s_t per series: the mean |r| over the window's last scaleDays returns (the moving average). */
  scale: Float32Array;
  /** |r[t+1]| per series. */
  nextAbs: Float32Array;
  /** 1 up, 0 down, -100 (no direction: a zero return) per series. */
  nextUp: Int32Array;
  /** The origin t (the window's last return). */
  origin: number;
}

/** Direction label of a return that is exactly zero: crossEntropy's ignore index. */
export const NO_DIRECTION = -100;
/** The floor of a window's scale s_t (Note [markets features]). */
export const MIN_SCALE = 1e-4;

export interface MarketWindowOptions {
  /** Returns each forecast reads (W). */
  window: number;
  /** Returns the scale s_t averages (the moving average's length); at most `window`. */
  scaleDays: number;
}

/**
 * The forecasts whose targets fall in one period (Note [markets split]), each built from the
 * returns before its target only (Note [markets features]). Origins run in time order.
 *
 * @example Every input comes before the target
 * ```ts
 * const r = Float64Array.from({ length: 100 }, (_, i) => (i % 3 - 1) * 0.01);
 * const w = new MarketWindows(r, 1, "test", { window: 10, scaleDays: 5 });
 * const first = w.get(0);
 * assert.equal(first.origin, marketSplit(100).testStart - 1);
 * assert.equal(first.nextAbs[0], Math.fround(Math.abs(r[first.origin + 1])));
 * ```
 */
export class MarketWindows implements Dataset<MarketSample> {
  readonly length: number;
  readonly series: number;
  readonly window: number;
  readonly scaleDays: number;
  /** The first origin. */
  readonly firstOrigin: number;
  /** Per series: the standard deviation of the training targets' returns. */
  readonly trainStd: Float64Array;

  constructor(readonly returns: Float64Array, series: number, readonly period: MarketPeriod, o: MarketWindowOptions) {
    const { window, scaleDays } = o;
    if (!Number.isInteger(window) || window < 1 || !Number.isInteger(scaleDays) || scaleDays < 1 || scaleDays > window) {
      throw new RangeError(`MarketWindows: window ${window} and scale ${scaleDays} days must be positive integers with the scale at most the window`);
    }
    const n = returns.length / series;
    const split = marketSplit(n);
    // Targets j in [from, to): the origin is j - 1, and its window needs j - 1 - (window - 1) >= 0.
    const [from, to] = period === "train" ? [window, split.validationStart] : period === "validation" ? [split.validationStart, split.testStart] : [split.testStart, n];
    if (to - from < 1) {
      throw new RangeError(`MarketWindows: ${n} returns leave no ${period} forecast with a window of ${window}: use a shorter window or a longer history`);
    }
    this.series = series;
    this.window = window;
    this.scaleDays = scaleDays;
    this.firstOrigin = from - 1;
    this.length = to - from;
    // sigma_train: over every return of the training period (r[0 .. validationStart - 1]), whichever period this is.
    this.trainStd = new Float64Array(series);
    for (let k = 0; k < series; k++) {
      let sum = 0, sq = 0;
      for (let j = 0; j < split.validationStart; j++) sum += returns[j * series + k]!;
      const mean = sum / split.validationStart;
      for (let j = 0; j < split.validationStart; j++) sq += (returns[j * series + k]! - mean) ** 2;
      this.trainStd[k] = Math.sqrt(sq / split.validationStart);
    }
  }

  get(index: number): MarketSample {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new RangeError(`MarketWindows: index ${index} is not in [0, ${this.length})`);
    }
    const { returns: r, series: s, window: w } = this;
    const t = this.firstOrigin + index;
    const scale = new Float32Array(s);
    const x = new Float32Array(3 * s * w);
    const nextAbs = new Float32Array(s);
    const nextUp = new Int32Array(s);
    for (let k = 0; k < s; k++) {
      let sum = 0;
      for (let j = t - this.scaleDays + 1; j <= t; j++) sum += Math.abs(r[j * s + k]!);
      const sc = Math.max(sum / this.scaleDays, MIN_SCALE);
      scale[k] = sc;
      const level = Math.log(sc / this.trainStd[k]!);
      for (let d = 0; d < w; d++) {
        const v = r[(t - w + 1 + d) * s + k]!;
        x[k * w + d] = v / sc;
        x[(s + k) * w + d] = Math.abs(v) / sc;
        x[(2 * s + k) * w + d] = level;
      }
      const next = r[(t + 1) * s + k]!;
      nextAbs[k] = Math.abs(next);
      nextUp[k] = next > 0 ? 1 : next < 0 ? 0 : NO_DIRECTION;
    }
    return { x, scale, nextAbs, nextUp, origin: t };
  }
}
