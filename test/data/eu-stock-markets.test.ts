// EuStockMarkets as shipped, its log-returns, the chronological split (Note [markets split]) and
// the windows' features (Note [markets features]): by hand, and checked for look-ahead.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  loadEuStockMarkets, logReturns, marketSplit, MarketWindows, NO_DIRECTION, parseEuStockCsv,
} from "../../src/data/eu-stock-markets.js";

test("the shipped table: four indices over 1,860 days from mid-1991 to mid-1998, first and last closes as published", () => {
  const t = loadEuStockMarkets();
  assert.deepEqual(t.names, ["DAX", "SMI", "CAC", "FTSE"]);
  assert.equal(t.days, 1860);
  assert.deepEqual([...t.prices.subarray(0, 4)], [1628.75, 1678.1, 1772.8, 2443.6]);
  assert.ok(t.time[0]! > 1991.49 && t.time[0]! < 1991.5 && t.time[1859]! > 1998.64 && t.time[1859]! < 1998.65);
});

test("malformed tables are refused with the line and the fix", () => {
  assert.throws(() => parseEuStockCsv("a,b,c\n1,2,3\n2,3,4\n"), /expected the header "day","time"/);
  assert.throws(() => parseEuStockCsv('"day","time","DAX"\n1,1991.5,100\n2,1991.6\n'), /line 3 of the table has 2 fields, expected 3/);
  assert.throws(() => parseEuStockCsv('"day","time","DAX"\n1,1991.5,100\n2,1991.6,-5\n'), /line 3 of the table has the DAX price "-5": prices must be positive/);
  assert.throws(() => parseEuStockCsv('"day","time","DAX"\n1,1991.5,100\n'), /holds 1 days of prices/);
});

test("log-returns by hand, and the split of the shipped table's 1,859 returns at 1,115 and 1,487", () => {
  const r = logReturns({ names: ["A", "B"], days: 3, prices: Float64Array.of(100, 50, 200, 50, 100, 25), time: new Float64Array(3) });
  assert.deepEqual([...r], [Math.log(2), 0, Math.log(0.5), Math.log(0.5)]);
  const returns = logReturns(loadEuStockMarkets());
  assert.equal(returns.length, 1859 * 4);
  assert.deepEqual(marketSplit(1859), { returns: 1859, validationStart: 1115, testStart: 1487 });
  // Test targets start in spring 1997: r[1487] is the return into day 1488 (0-based).
  const time = loadEuStockMarkets().time;
  assert.ok(time[1488]! > 1997.2 && time[1488]! < 1997.3, `test starts at ${time[1488]}`);
  const w = { window: 20, scaleDays: 20 };
  const periods = (["train", "validation", "test"] as const).map((p) => new MarketWindows(returns, 4, p, w));
  assert.deepEqual(periods.map((p) => p.length), [1115 - 20, 372, 372]);
  assert.deepEqual(periods.map((p) => p.firstOrigin), [19, 1114, 1486]);
  // Every target of one period is before every target of the next.
  assert.equal(periods[0]!.firstOrigin + periods[0]!.length, periods[1]!.firstOrigin);
  assert.equal(periods[1]!.firstOrigin + periods[1]!.length, periods[2]!.firstOrigin);
  assert.equal(periods[2]!.firstOrigin + periods[2]!.length + 1, 1859);
});

test("a window's features by hand: returns and |returns| over the scale, and the level against the training deviation", () => {
  // One series of 10 returns; window 3, scale over the last 2; forecasts of the test period (targets 8, 9).
  const r = Float64Array.of(0.01, -0.01, 0.01, -0.01, 0.01, -0.01, 0.02, -0.04, 0.02, 0);
  const w = new MarketWindows(r, 1, "test", { window: 3, scaleDays: 2 });
  assert.equal(marketSplit(10).testStart, 8);
  assert.equal(w.length, 2);
  // sigma_train over the training period r[0..5]: mean 0, every |r| 0.01: std 0.01.
  assert.ok(Math.abs(w.trainStd[0]! - 0.01) < 1e-15);
  const s = w.get(0); // origin 7: window r[5..7] = -0.01, 0.02, -0.04; scale (0.02 + 0.04) / 2 = 0.03
  assert.equal(s.origin, 7);
  const f = Math.fround;
  assert.deepEqual([...s.scale], [f(0.03)]);
  assert.deepEqual([...s.x], [-0.01 / 0.03, 0.02 / 0.03, -0.04 / 0.03, 0.01 / 0.03, 0.02 / 0.03, 0.04 / 0.03, Math.log(3), Math.log(3), Math.log(3)].map(f));
  assert.deepEqual([[...s.nextAbs], [...s.nextUp]], [[f(0.02)], [1]]);
  // The last target is a zero return: no direction.
  assert.deepEqual([...w.get(1).nextUp], [NO_DIRECTION]);
});

test("no look-ahead: changing every return after a forecast's origin leaves its inputs unchanged", () => {
  const returns = logReturns(loadEuStockMarkets());
  const options = { window: 20, scaleDays: 20 };
  const test = new MarketWindows(returns, 4, "test", options);
  for (const i of [0, 100, 371]) {
    const before = test.get(i);
    const changed = returns.slice();
    for (let j = (before.origin + 1) * 4; j < changed.length; j++) changed[j] = 0.5;
    const after = new MarketWindows(changed, 4, "test", options).get(i);
    assert.deepEqual(after.x, before.x, `forecast ${i} read a return after its origin`);
    assert.deepEqual(after.scale, before.scale);
    // ... and the target is the one after the origin.
    assert.deepEqual([...after.nextAbs], [0.5, 0.5, 0.5, 0.5].map(Math.fround));
  }
  // The training deviation comes from the training period only.
  const stormy = returns.slice();
  for (let j = 1115 * 4; j < stormy.length; j++) stormy[j] *= 10;
  assert.deepEqual(new MarketWindows(stormy, 4, "test", options).trainStd, test.trainStd);
});

test("bad window options are refused", () => {
  const r = new Float64Array(100);
  assert.throws(() => new MarketWindows(r, 1, "train", { window: 10, scaleDays: 20 }), /scale at most the window/);
  assert.throws(() => new MarketWindows(r, 1, "train", { window: 70, scaleDays: 20 }), /leave no train forecast with a window of 70/);
});
