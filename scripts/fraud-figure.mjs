#!/usr/bin/env node
// Draws the fraud recipe's precision-recall curves, the network's and logistic regression's, as
// one SVG, from the JSON that `weft train fraud --curves FILE` writes.
//
//   node dist/src/cli/main.js train fraud --curves fraud-curves.json --json
//   node scripts/fraud-figure.mjs fraud-curves.json docs/images/fraud-pr.svg "synthetic transactions, test days 45-60"
import { readFileSync, writeFileSync } from "node:fs";

const [input, output = "docs/images/fraud-pr.svg", caption = ""] = process.argv.slice(2);
if (!input) throw new Error("fraud-figure: pass the file weft train fraud --curves wrote");
const curves = JSON.parse(readFileSync(input, "utf8"));
for (const k of ["network", "baseline"]) {
  if (!Array.isArray(curves[k])) throw new Error(`fraud-figure: ${input} has no ${k} curve: pass the file weft train fraud --curves wrote`);
}

// Only the points where recall rises shape a step curve (and its area): at most one per positive.
for (const k of ["network", "baseline"]) curves[k] = curves[k].filter(([r], i, all) => r > (i ? all[i - 1][0] : 0));

const W = 520, H = 400, left = 60, right = 20, top = 30, bottom = 70;
const x = (r) => left + r * (W - left - right), y = (p) => top + (1 - p) * (H - top - bottom);
/** Average precision from the points, as the recipe computes it (steps, not trapezoids). */
const ap = (pts) => pts.reduce((s, [r, p], i) => s + (r - (i ? pts[i - 1][0] : 0)) * p, 0);
/** A step path: precision holds from the previous recall to this one. */
const path = (pts) => pts.map(([r, p], i) => `${i ? `L${x(pts[i - 1][0]).toFixed(1)},${y(p).toFixed(1)} ` : `M${x(0).toFixed(1)},${y(p).toFixed(1)} `}L${x(r).toFixed(1)},${y(p).toFixed(1)}`).join(" ");
const parts = [];
for (let k = 0; k <= 10; k += 2) {
  const v = k / 10;
  parts.push(`<line x1="${x(0)}" x2="${x(1)}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${v.toFixed(1)}</text>`);
  parts.push(`<line y1="${y(0)}" y2="${y(1)}" x1="${x(v)}" x2="${x(v)}" stroke="#ddd"/><text x="${x(v)}" y="${y(0) + 16}" text-anchor="middle" font-size="11">${v.toFixed(1)}</text>`);
}
parts.push(`<rect x="${x(0)}" y="${y(1)}" width="${x(1) - x(0)}" height="${y(0) - y(1)}" fill="none" stroke="#444"/>`);
parts.push(`<text x="${(x(0) + x(1)) / 2}" y="${y(0) + 34}" text-anchor="middle" font-size="12">recall</text>`);
parts.push(`<text transform="translate(16 ${(y(0) + y(1)) / 2}) rotate(-90)" text-anchor="middle" font-size="12">precision</text>`);
const series = [["network", "FraudMlp network", "#2166ac"], ["baseline", "logistic regression", "#d6604d"]];
series.forEach(([k, name, colour], i) => {
  parts.push(`<path d="${path(curves[k])}" fill="none" stroke="${colour}" stroke-width="2"/>`);
  parts.push(`<line x1="${x(0.04)}" x2="${x(0.1)}" y1="${y(0.16 - i * 0.07)}" y2="${y(0.16 - i * 0.07)}" stroke="${colour}" stroke-width="2"/>`);
  parts.push(`<text x="${x(0.12)}" y="${y(0.16 - i * 0.07) + 4}" font-size="12">${name}, PR-AUC ${ap(curves[k]).toFixed(3)}</text>`);
});
if (caption) parts.push(`<text x="${W / 2}" y="${H - 12}" text-anchor="middle" font-size="11">${caption.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</text>`);
writeFileSync(output, `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="#fff"/>\n${parts.join("\n")}\n</svg>\n`);
console.log(`wrote ${output}`);
