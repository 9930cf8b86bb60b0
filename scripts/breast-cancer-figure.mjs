#!/usr/bin/env node
// Draws the breast-cancer recipe's out-of-fold confusion matrix (every tumour predicted by the
// fold MLP trained without it) and each fold's accuracy, from a checkpoint that
// `weft train breast-cancer --checkpoint-dir DIR` wrote:
//
//   node scripts/breast-cancer-figure.mjs DIR [OUT.svg]   (default docs/images/breast-cancer-confusion.svg)
//
// Needs a build (npm run build). The SVG is self-contained: no script, no font download.
import { writeFileSync } from "node:fs";
import { loadBreastCancer } from "../dist/src/data/breast-cancer.js";
import { confusionMatrix } from "../dist/src/metrics/classification.js";
import { breastCancer, breastCancerFolds, crossValidate, outOfFoldPredictions } from "../dist/src/recipes/breast-cancer.js";
import { CONFIG_KEY, loadCheckpoint } from "../dist/src/checkpoint/index.js";
import { listStepCheckpoints, loadNewestCheckpoint } from "../dist/src/train/checkpoint-folder.js";

const [dir, out = "docs/images/breast-cancer-confusion.svg"] = process.argv.slice(2);
if (!dir) {
  console.error("usage: node scripts/breast-cancer-figure.mjs CHECKPOINT_DIR [OUT.svg]");
  process.exit(2);
}
const newest = listStepCheckpoints(dir)[0];
if (!newest) throw new Error(`${dir} holds no checkpoint; train with weft train breast-cancer --checkpoint-dir ${dir}`);
const { settings } = JSON.parse((await loadCheckpoint(newest.path)).metadata[CONFIG_KEY]).config;
const model = breastCancer.model(settings);
await loadNewestCheckpoint(dir, { model }, (line) => console.error(line));

const table = loadBreastCancer();
const folds = breastCancerFolds(settings.options.folds, settings.options["fold-seed"]);
const scores = crossValidate(model, table, folds);
const m = confusionMatrix(table.labels, outOfFoldPredictions(model, table, folds), 2);
const names = ["malignant", "benign"];

const cell = 90, left = 120, top = 80, parts = [];
const text = (x, y, s, extra = "") => parts.push(`<text x="${x}" y="${y}" ${extra}>${s}</text>`);
text(300, 24, `breast-cancer: out-of-fold predictions of all 569 tumours (cv_accuracy ${(100 * scores.cv_accuracy).toFixed(2)}%)`, 'text-anchor="middle" font-weight="bold"');
text(left + cell, top - 30, "predicted", 'text-anchor="middle"');
text(24, top + cell, "true", `text-anchor="middle" transform="rotate(-90 24 ${top + cell})"`);
for (let t = 0; t < 2; t++) {
  text(left - 10, top + t * cell + cell / 2 + 5, names[t], 'text-anchor="end"');
  text(left + t * cell + cell / 2, top - 8, names[t], 'text-anchor="middle"');
  const row = m.counts[t * 2] + m.counts[t * 2 + 1];
  for (let p = 0; p < 2; p++) {
    const c = m.counts[t * 2 + p];
    const fill = t === p ? `rgba(33,102,172,${(0.15 + 0.85 * (c / row)).toFixed(3)})` : c === 0 ? "#fff" : `rgba(214,39,40,${Math.min(1, 0.2 + 0.05 * c).toFixed(3)})`;
    parts.push(`<rect x="${left + p * cell}" y="${top + t * cell}" width="${cell}" height="${cell}" fill="${fill}" stroke="#ccc"/>`);
    text(left + p * cell + cell / 2, top + t * cell + cell / 2 + 6, c, `text-anchor="middle" font-size="18" fill="${t === p ? "#fff" : "#000"}"`);
  }
}
text(left, top + 2 * cell + 24, `malignant recall ${(100 * scores.malignant_recall).toFixed(1)}%, precision ${(100 * scores.malignant_precision).toFixed(1)}%`);
// Per-fold accuracy bars, from 90% to 100%.
const bx = left + 2 * cell + 70, bw = 36, bh = 2 * cell, lo = 0.9;
text(bx + 2.5 * (bw + 8), top - 30, "accuracy per fold", 'text-anchor="middle"');
for (let g = 0; g <= 10; g += 2) {
  const y = top + bh - (g / 10) * bh;
  parts.push(`<line x1="${bx - 4}" y1="${y}" x2="${bx + 5 * (bw + 8)}" y2="${y}" stroke="#eee"/>`);
  text(bx - 8, y + 4, `${90 + g}%`, 'text-anchor="end" font-size="11"');
}
for (let k = 0; k < settings.options.folds; k++) {
  const a = scores[`fold${k}_accuracy`];
  const h = (Math.max(0, a - lo) / (1 - lo)) * bh;
  parts.push(`<rect x="${bx + k * (bw + 8)}" y="${top + bh - h}" width="${bw}" height="${h}" fill="#2166ac"/>`);
  text(bx + k * (bw + 8) + bw / 2, top + bh + 16, `fold ${k}`, 'text-anchor="middle" font-size="11"');
  text(bx + k * (bw + 8) + bw / 2, top + bh - h - 4, (100 * a).toFixed(1), 'text-anchor="middle" font-size="11"');
}
const width = bx + settings.options.folds * (bw + 8) + 20, height = top + 2 * cell + 40;
writeFileSync(out, `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">\n<rect width="100%" height="100%" fill="#fff"/>\n${parts.join("\n")}\n</svg>\n`);
console.log(`${out}: cv_accuracy ${scores.cv_accuracy}, confusion ${[...m.counts]}`);
