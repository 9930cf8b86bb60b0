#!/usr/bin/env node
// Draws the spam recipe's confusion matrices, the network's beside naive Bayes's, as one SVG, from
// the result line of `weft train spam --json` (its spam_tn/fp/fn/tp and nb_tn/fp/fn/tp fields).
//
//   node dist/src/cli/main.js train spam --json | tail -1 > spam-result.json
//   node scripts/spam-figure.mjs spam-result.json docs/images/spam-confusion.svg
//
// With no arguments it reads the result line from stdin and writes docs/images/spam-confusion.svg.
import { readFileSync, writeFileSync } from "node:fs";

const [input, output = "docs/images/spam-confusion.svg"] = process.argv.slice(2);
const text = readFileSync(input ?? 0, "utf8").trim().split("\n").pop();
const r = JSON.parse(text);
for (const p of ["spam_", "nb_"]) {
  for (const k of ["tn", "fp", "fn", "tp", "f1"]) {
    if (typeof r[p + k] !== "number") throw new Error(`spam-figure: the result line has no number ${p}${k}: pass the last line of weft train spam --json`);
  }
}

const cell = 92, gap = 70, left = 96, top = 78;
const width = left + 2 * (2 * cell) + gap + 30, height = top + 2 * cell + 66;
const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;");
const parts = [];

/** One 2x2 matrix at x: rows are the truth (ham, spam), columns the prediction. */
function matrix(x, prefix, title) {
  const counts = [[r[`${prefix}tn`], r[`${prefix}fp`]], [r[`${prefix}fn`], r[`${prefix}tp`]]];
  parts.push(`<text x="${x + cell}" y="${top - 48}" text-anchor="middle" font-weight="bold">${esc(title)}</text>`);
  parts.push(`<text x="${x + cell}" y="${top - 30}" text-anchor="middle" font-size="12">spam F1 ${r[`${prefix}f1`].toFixed(3)}</text>`);
  ["ham", "spam"].forEach((label, j) => parts.push(`<text x="${x + j * cell + cell / 2}" y="${top - 8}" text-anchor="middle" font-size="12">predicted ${label}</text>`));
  for (let t = 0; t < 2; t++) {
    const rowTotal = counts[t][0] + counts[t][1];
    for (let p = 0; p < 2; p++) {
      const n = counts[t][p];
      const share = rowTotal === 0 ? 0 : n / rowTotal;
      // Right answers in blue, mistakes in orange; the shade is the share of the true class's row.
      const hue = t === p ? "33,102,172" : "214,96,77";
      const alpha = (0.12 + 0.88 * share).toFixed(3);
      const cx = x + p * cell, cy = top + t * cell;
      parts.push(`<rect x="${cx}" y="${cy}" width="${cell}" height="${cell}" fill="rgba(${hue},${alpha})" stroke="#444"/>`);
      const ink = share > 0.55 ? "#fff" : "#111";
      parts.push(`<text x="${cx + cell / 2}" y="${cy + cell / 2}" text-anchor="middle" font-size="20" fill="${ink}">${n}</text>`);
      parts.push(`<text x="${cx + cell / 2}" y="${cy + cell / 2 + 20}" text-anchor="middle" font-size="11" fill="${ink}">${(100 * share).toFixed(1)}%</text>`);
    }
  }
}

["ham", "spam"].forEach((label, t) => parts.push(`<text x="${left - 8}" y="${top + t * cell + cell / 2 + 4}" text-anchor="end" font-size="12">true ${label}</text>`));
matrix(left, "spam_", "SpamBag network");
matrix(left + 2 * cell + gap, "nb_", "naive Bayes baseline");
const total = r.spam_tn + r.spam_fp + r.spam_fn + r.spam_tp;
parts.push(`<text x="${width / 2}" y="${height - 22}" text-anchor="middle" font-size="11">SpamAssassin test split: ${total} messages (${r.spam_fn + r.spam_tp} spam); shade = share of the true class's row</text>`);

const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="#fff"/>
${parts.join("\n")}
</svg>
`;
writeFileSync(output, svg);
console.log(`wrote ${output}`);
