#!/usr/bin/env node
// Draws the mnist recipe's confusion matrix on the 2,000 test digits, and the digits it gets
// wrong, from a checkpoint that `weft train mnist --checkpoint-dir DIR` wrote:
//
//   node scripts/mnist-figure.mjs DIR [OUT.svg]      (default docs/images/mnist-confusion.svg)
//
// Needs a build (npm run build). The SVG is self-contained: no script, no font download.
import { writeFileSync } from "node:fs";
import { loadMnist, MNIST_TRAIN_MEAN, MNIST_TRAIN_STD } from "../dist/src/data/index.js";
import { accuracy, confusionMatrix } from "../dist/src/metrics/classification.js";
import { mnist } from "../dist/src/recipes/mnist.js";
import { argmax, noGrad, Tensor } from "../dist/src/tensor/index.js";
import { loadNewestCheckpoint } from "../dist/src/train/checkpoint-folder.js";
import { CONFIG_KEY, loadCheckpoint } from "../dist/src/checkpoint/index.js";
import { listStepCheckpoints } from "../dist/src/train/checkpoint-folder.js";

const [dir, out = "docs/images/mnist-confusion.svg"] = process.argv.slice(2);
if (!dir) {
  console.error("usage: node scripts/mnist-figure.mjs CHECKPOINT_DIR [OUT.svg]");
  process.exit(2);
}
const newest = listStepCheckpoints(dir)[0];
if (!newest) throw new Error(`${dir} holds no checkpoint; train with weft train mnist --checkpoint-dir ${dir}`);
const { settings } = JSON.parse((await loadCheckpoint(newest.path)).metadata[CONFIG_KEY]).config;
const model = mnist.model(settings);
await loadNewestCheckpoint(dir, { model }, (line) => console.error(line));

const test = loadMnist().test;
const predicted = new Int32Array(test.length);
model.eval();
noGrad(() => {
  const x = Float32Array.from(test.images, (v) => (v - MNIST_TRAIN_MEAN) / MNIST_TRAIN_STD);
  predicted.set(argmax(model.forward(new Tensor(x, [test.length, 1, 28, 28]))));
});
const m = confusionMatrix(test.labels, predicted, 10);
const wrong = [...test.labels.keys()].filter((i) => predicted[i] !== test.labels[i]);

// Layout: the matrix on the left (cells 34 px), the misclassified digits on the right (2 px per pixel).
const cell = 34, left = 60, top = 60, side = 10 * cell;
const parts = [];
const text = (x, y, s, extra = "") => parts.push(`<text x="${x}" y="${y}" ${extra}>${s}</text>`);
text(left + side / 2, 24, `mnist: confusion matrix on the 2,000 test digits (accuracy ${(100 * accuracy(m)).toFixed(2)}%)`, 'text-anchor="middle" font-weight="bold"');
text(left + side / 2, top - 10, "predicted", 'text-anchor="middle"');
text(18, top + side / 2, "true", `text-anchor="middle" transform="rotate(-90 18 ${top + side / 2})"`);
for (let t = 0; t < 10; t++) {
  text(left - 12, top + t * cell + cell / 2 + 5, t, 'text-anchor="middle"');
  text(left + t * cell + cell / 2, top + side + 18, t, 'text-anchor="middle"');
  let row = 0;
  for (let p = 0; p < 10; p++) row += m.counts[t * 10 + p];
  for (let p = 0; p < 10; p++) {
    const c = m.counts[t * 10 + p];
    const share = row === 0 ? 0 : c / row;
    // Diagonal cells in blue by their share of the row; off-diagonal errors in red, made visible even when few.
    const fill = t === p ? `rgba(33,102,172,${(0.15 + 0.85 * share).toFixed(3)})` : c === 0 ? "#fff" : `rgba(214,39,40,${Math.min(1, 0.25 + 0.15 * c).toFixed(3)})`;
    parts.push(`<rect x="${left + p * cell}" y="${top + t * cell}" width="${cell}" height="${cell}" fill="${fill}" stroke="#ccc"/>`);
    if (c > 0) text(left + p * cell + cell / 2, top + t * cell + cell / 2 + 4, c, `text-anchor="middle" font-size="11" fill="${t === p && share > 0.5 ? "#fff" : "#000"}"`);
  }
}
const gx = left + side + 40, per = 8, scale = 2, box = 28 * scale + 18;
text(gx, top - 10, `the ${wrong.length} digits it gets wrong (true → predicted)`);
wrong.forEach((i, k) => {
  const x0 = gx + (k % per) * box, y0 = top + Math.floor(k / per) * (box + 4);
  parts.push(`<rect x="${x0}" y="${y0}" width="${28 * scale}" height="${28 * scale}" fill="#000"/>`);
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const v = test.images[i * 784 + y * 28 + x];
      if (v > 0.05) parts.push(`<rect x="${x0 + x * scale}" y="${y0 + y * scale}" width="${scale}" height="${scale}" fill="rgb(${Array(3).fill(Math.round(255 * v)).join(",")})"/>`);
    }
  }
  text(x0 + 14 * scale, y0 + 28 * scale + 13, `${test.labels[i]} → ${predicted[i]}`, 'text-anchor="middle" font-size="11"');
});
const width = gx + per * box + 10, height = Math.max(top + side + 40, top + Math.ceil(wrong.length / per) * (box + 4) + 20);
writeFileSync(out, `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">\n<rect width="100%" height="100%" fill="#fff"/>\n${parts.join("\n")}\n</svg>\n`);
console.log(`${out}: accuracy ${accuracy(m)}, ${wrong.length} wrong`);
