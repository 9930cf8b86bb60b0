#!/usr/bin/env node
// Draws the markets recipe's volatility forecasts against what happened over the test period
// (spring 1997 to mid-1998), one panel per index: the next day's absolute log-return (grey), the
// model's forecast (blue) and the 20-day moving average (orange), from a checkpoint that
// `weft train markets --checkpoint-dir DIR` wrote:
//
//   node scripts/markets-figure.mjs DIR [OUT.svg]      (default docs/images/markets-forecast.svg)
//
// Needs a build (npm run build). The SVG is self-contained: no script, no font download.
import { writeFileSync } from "node:fs";
import { loadEuStockMarkets, MarketWindows } from "../dist/src/data/eu-stock-markets.js";
import { meanAbsoluteError } from "../dist/src/metrics/markets-forecast.js";
import { movingAverageForecast } from "../dist/src/recipes/markets-baselines.js";
import { forecastPeriod, MA_DAYS, marketReturns, markets } from "../dist/src/recipes/markets.js";
import { CONFIG_KEY, loadCheckpoint } from "../dist/src/checkpoint/index.js";
import { listStepCheckpoints, loadNewestCheckpoint } from "../dist/src/train/checkpoint-folder.js";

const [dir, out = "docs/images/markets-forecast.svg"] = process.argv.slice(2);
if (!dir) {
  console.error("usage: node scripts/markets-figure.mjs CHECKPOINT_DIR [OUT.svg]");
  process.exit(2);
}
const newest = listStepCheckpoints(dir)[0];
if (!newest) throw new Error(`${dir} holds no checkpoint; train with weft train markets --checkpoint-dir ${dir}`);
const { settings } = JSON.parse((await loadCheckpoint(newest.path)).metadata[CONFIG_KEY]).config;
const model = markets.model(settings);
await loadNewestCheckpoint(dir, { model }, (line) => console.error(line));

const { returns, series } = marketReturns();
const table = loadEuStockMarkets();
const windows = new MarketWindows(returns, series, "test", { window: settings.options.window, scaleDays: settings.options["scale-days"] });
const { volatility } = forecastPeriod(model, windows);
const days = windows.length;
// Per index: the target day's date, the truth, the model and the moving average, in percent.
const panels = table.names.map((name, k) => {
  const time = [], truth = [], forecast = [], ma = [];
  for (let i = 0; i < days; i++) {
    const t = windows.firstOrigin + i;
    time.push(table.time[t + 2]); // r[t + 1] is the return into day t + 2
    truth.push(100 * Math.abs(returns[(t + 1) * series + k]));
    forecast.push(100 * volatility[i * series + k]);
    ma.push(100 * movingAverageForecast(returns, series, t, k, MA_DAYS));
  }
  return { name, time, truth, forecast, ma, modelMae: meanAbsoluteError(forecast, truth), maMae: meanAbsoluteError(ma, truth) };
});

const width = 900, panelHeight = 150, left = 56, right = 16, top = 56, gap = 34;
const plotWidth = width - left - right;
const t0 = panels[0].time[0], t1 = panels[0].time[days - 1];
const x = (t) => left + ((t - t0) / (t1 - t0)) * plotWidth;
const parts = [];
const text = (px, py, s, extra = "") => parts.push(`<text x="${px.toFixed(1)}" y="${py.toFixed(1)}" ${extra}>${s}</text>`);
text(width / 2, 22, "markets: next-day absolute log-return on the test days, forecast against what happened", 'text-anchor="middle" font-weight="bold"');
// Legend.
const legend = [["#999", "truth |r| (next day)"], ["#2166ac", "model forecast"], ["#e08214", "20-day moving average"]];
legend.forEach(([color, label], i) => {
  const lx = left + i * 230;
  parts.push(`<line x1="${lx}" y1="38" x2="${lx + 24}" y2="38" stroke="${color}" stroke-width="2.5"/>`);
  text(lx + 30, 42, label);
});
panels.forEach((p, k) => {
  const y0 = top + k * (panelHeight + gap);
  // Clip the scale at a little above the forecasts so the forecasts stay readable; spikes above it are cut (marked).
  const yMax = Math.max(4, Math.ceil(Math.max(...p.forecast, ...p.ma) * 1.6));
  const y = (v) => y0 + panelHeight - (Math.min(v, yMax) / yMax) * panelHeight;
  parts.push(`<rect x="${left}" y="${y0}" width="${plotWidth}" height="${panelHeight}" fill="none" stroke="#ccc"/>`);
  for (let g = 0; g <= yMax; g += yMax > 6 ? 2 : 1) {
    parts.push(`<line x1="${left}" y1="${y(g).toFixed(1)}" x2="${left + plotWidth}" y2="${y(g).toFixed(1)}" stroke="#eee"/>`);
    text(left - 6, y(g) + 4, `${g}%`, 'text-anchor="end" font-size="11"');
  }
  const path = (values, color, w) => parts.push(`<polyline fill="none" stroke="${color}" stroke-width="${w}" points="${values.map((v, i) => `${x(p.time[i]).toFixed(1)},${y(v).toFixed(1)}`).join(" ")}"/>`);
  path(p.truth, "#bbb", 1);
  p.truth.forEach((v, i) => { if (v > yMax) parts.push(`<circle cx="${x(p.time[i]).toFixed(1)}" cy="${y0 + 2}" r="2" fill="#999"/>`); });
  path(p.ma, "#e08214", 1.6);
  path(p.forecast, "#2166ac", 1.8);
  text(left + 8, y0 + 16, `${p.name}: MAE model ${p.modelMae.toFixed(3)}, moving average ${p.maMae.toFixed(3)} (percentage points)`, 'font-size="12" font-weight="bold"');
});
// Time axis under the last panel: a tick per quarter.
const yAxis = top + 4 * (panelHeight + gap) - gap + 16;
for (let q = Math.ceil(t0 * 4) / 4; q <= t1; q += 0.25) {
  const quarter = Math.round((q % 1) * 4);
  text(x(q), yAxis, `${Math.floor(q + 1e-9)} Q${quarter + 1}`, 'text-anchor="middle" font-size="11"');
}
text(width / 2, yAxis + 18, "dots on a panel's top edge: days whose move is above the panel's scale", 'text-anchor="middle" font-size="11" fill="#666"');
const height = yAxis + 28;
writeFileSync(out, `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">\n<rect width="100%" height="100%" fill="#fff"/>\n${parts.join("\n")}\n</svg>\n`);
console.log(`${out}: ${panels.map((p) => `${p.name} ${p.modelMae.toFixed(4)} vs ${p.maMae.toFixed(4)}`).join(", ")}`);
