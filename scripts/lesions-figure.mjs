#!/usr/bin/env node
// The picture of docs/recipes/lesions.md: test phantoms, each with the outline of its true lesion
// mask (green) and of the mask a trained U-Net predicts (magenta, dashed), and each image's Dice.
// It reads a checkpoint written by `weft train lesions --checkpoint PATH` (the recipe and settings
// are in its metadata), so the picture shows the model that the docs' result table measured.
//
//   npm run build && node scripts/lesions-figure.mjs lesions.safetensors docs/images/lesions-test-phantoms.svg
//
// The SVG holds each phantom as an embedded 64 x 64 grey PNG, drawn pixelated, with the outlines
// as paths along pixel edges. Exit 0 with the file written, 2 on bad input.
import { readFileSync, writeFileSync } from "node:fs";
import { deflateSync, crc32 } from "node:zlib";

const dist = new URL("../dist/src/", import.meta.url);
const [checkpoint, out = "docs/images/lesions-test-phantoms.svg", countArg = "8"] = process.argv.slice(2);
if (!checkpoint) {
  console.error("usage: node scripts/lesions-figure.mjs CHECKPOINT [OUT.svg] [COUNT]");
  process.exit(2);
}
const { loadCheckpoint, CONFIG_KEY } = await import(new URL("checkpoint/index.js", dist).href);
const { loadTrainingCheckpoint } = await import(new URL("train/training-checkpoint.js", dist).href);
const { lesions, predictMasks, lesionData, dropSmallBlobs } = await import(new URL("recipes/lesions.js", dist).href);
const { dice } = await import(new URL("metrics/segmentation.js", dist).href);

const { metadata } = await loadCheckpoint(checkpoint);
const settings = JSON.parse(metadata[CONFIG_KEY] ?? "null")?.config?.settings;
if (!settings) {
  console.error(`lesions-figure: ${checkpoint} has no recipe settings in its metadata; give a checkpoint written by weft train lesions --checkpoint`);
  process.exit(2);
}
const model = lesions.model(settings);
await loadTrainingCheckpoint(checkpoint, { model });
const { test } = lesionData(settings);
const predicted = predictMasks(model, test);
const minBlob = settings.options["min-blob"] ?? 1;
const { height: h, width: w } = test;

/** A grey-level PNG (colour type 0) of an h x w image of bytes. */
function greyPng(bytes, width, height) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body) >>> 0);
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grey
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) raw.set(bytes.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}

/** The outline of a mask: every pixel edge between a 1 and a 0 (or the border), as path segments. */
function outline(mask, s) {
  const on = (r, c) => r >= 0 && r < h && c >= 0 && c < w && mask[r * w + c] === 1;
  const d = [];
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      if (!on(r, c)) continue;
      if (!on(r - 1, c)) d.push(`M${c * s} ${r * s}h${s}`);
      if (!on(r + 1, c)) d.push(`M${c * s} ${(r + 1) * s}h${s}`);
      if (!on(r, c - 1)) d.push(`M${c * s} ${r * s}v${s}`);
      if (!on(r, c + 1)) d.push(`M${(c + 1) * s} ${r * s}v${s}`);
    }
  }
  return d.join("");
}

// The first test phantoms of each kind, so the picture shows empty, one-lesion and many-lesion images.
const count = Number(countArg);
const byLesions = [[], [], [], []];
for (let k = 0; k < test.length; k++) {
  const m = test.get(k).mask;
  let blobs = m.reduce((a, b) => a + b, 0) === 0 ? 0 : 1;
  if (blobs) {
    const copy = m.slice();
    blobs = 0;
    // Count blobs by dropping those under size 1 after labelling: cheap enough for 64 x 64.
    const seen = new Uint8Array(m.length);
    for (let i = 0; i < m.length; i++) {
      if (copy[i] !== 1 || seen[i]) continue;
      blobs++;
      const stack = [i];
      seen[i] = 1;
      while (stack.length) {
        const j = stack.pop(), r = Math.floor(j / w), c = j % w;
        for (const n of [r > 0 ? j - w : -1, r < h - 1 ? j + w : -1, c > 0 ? j - 1 : -1, c < w - 1 ? j + 1 : -1]) if (n >= 0 && copy[n] === 1 && !seen[n]) { seen[n] = 1; stack.push(n); }
      }
    }
  }
  byLesions[Math.min(3, blobs)].push(k);
}
const picks = [];
for (let round = 0; picks.length < count && round < test.length; round++) for (const list of byLesions) if (list[round] !== undefined && picks.length < count) picks.push(list[round]);
picks.sort((a, b) => a - b);

const scale = 3, pad = 10, caption = 18, cols = 4;
const cell = w * scale;
const rows = Math.ceil(picks.length / cols);
const width = cols * (cell + pad) + pad, height = 40 + rows * (cell + caption + pad);
const parts = [
  `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  `<rect width="100%" height="100%" fill="white"/>`,
  `<text x="${pad}" y="18">Test phantoms (synthetic): <tspan fill="#1a9641" font-weight="bold">true lesion mask</tspan>, <tspan fill="#c51b7d" font-weight="bold">U-Net prediction</tspan>; Dice per image</text>`,
];
picks.forEach((k, n) => {
  const x0 = pad + (n % cols) * (cell + pad), y0 = 30 + Math.floor(n / cols) * (cell + caption + pad);
  const s = test.get(k);
  let lo = Infinity, hi = -Infinity;
  for (const v of s.image) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const bytes = Uint8Array.from(s.image, (v) => Math.round((255 * (v - lo)) / (hi - lo || 1)));
  const p = predicted.subarray(k * h * w, (k + 1) * h * w).slice();
  if (minBlob > 1) dropSmallBlobs(p, h, w, minBlob);
  parts.push(
    `<g transform="translate(${x0} ${y0})">`,
    `<image width="${cell}" height="${cell}" style="image-rendering:pixelated" href="data:image/png;base64,${greyPng(bytes, w, h).toString("base64")}"/>`,
    `<path d="${outline(s.mask, scale)}" stroke="#1a9641" stroke-width="2" fill="none"/>`,
    `<path d="${outline(p, scale)}" stroke="#c51b7d" stroke-width="1.5" stroke-dasharray="3 2" fill="none"/>`,
    `<text x="0" y="${cell + 14}">test ${k}: Dice ${dice(s.mask, p).toFixed(2)}</text>`,
    `</g>`,
  );
});
parts.push("</svg>");
writeFileSync(out, parts.join("\n") + "\n");
console.log(`lesions-figure: ${picks.length} test phantoms written to ${out}`);
