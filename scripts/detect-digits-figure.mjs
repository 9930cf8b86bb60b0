#!/usr/bin/env node
// Draws a trained detect-digits model's detections on test canvases of held-out digits, as one SVG
// (each canvas a PNG inside it, the boxes and labels as vector shapes on top):
//
//   npm run build
//   weft train detect-digits --workers 2 --checkpoint run.safetensors
//   node scripts/detect-digits-figure.mjs run.safetensors [docs/images/detect-digits-detections.svg] [--width 16]
//
// A detection is drawn when its score is at least 0.5 (so at most one class per cell): green when it is right (its class, IoU
// above 0.5 with a true box not already found), red when it is not; the true boxes are grey and
// dashed. The canvases are the first of the test set that hold 3 or 4 digits with some overlap,
// then the first of the rest, so the picture shows the crowded cases as well as the easy ones.
import { writeFileSync } from "node:fs";
import { deflateSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const root = fileURLToPath(new URL("../", import.meta.url));
const load = (path) => import(join(root, "dist", path));
const { loadCheckpoint } = await load("src/checkpoint/checkpoint-file.js");
const { loadDetectDigits, CANVAS_SIDE } = await load("src/data/detect-digits.js");
const { digitDetector } = await load("src/models/digit-detector.js");
const { detectAll } = await load("src/recipes/detect-digits.js");
const { iou } = await load("src/metrics/detection.js");
const { Tensor } = await load("src/tensor/index.js");

const args = process.argv.slice(2);
const widthAt = args.indexOf("--width");
const width = widthAt >= 0 ? Number(args.splice(widthAt, 2)[1]) : 16;
const [checkpointPath, out = join(root, "docs/images/detect-digits-detections.svg")] = args;
if (!checkpointPath) {
  console.error("usage: node scripts/detect-digits-figure.mjs CHECKPOINT.safetensors [OUT.svg] [--width N]: train with --checkpoint PATH first");
  process.exit(2);
}

const model = digitDetector(width);
const { tensors } = await loadCheckpoint(checkpointPath);
const state = {};
for (const [name, t] of Object.entries(model.stateDict())) {
  const saved = tensors[name];
  if (!saved) throw new Error(`${checkpointPath} has no tensor ${name}: was it written by weft train detect-digits --width ${width}?`);
  state[name] = new Tensor(Float32Array.from(saved.data), t.shape);
}
model.loadStateDict(state);

const { test } = loadDetectDigits();
const overlapping = (boxes) => boxes.some((b, k) => boxes.some((o, j) => j !== k && o.x0 < b.x1 && b.x0 < o.x1 && o.y0 < b.y1 && b.y0 < o.y1));
const crowded = [], plain = [];
for (let i = 0; i < test.length && (crowded.length < 6 || plain.length < 2); i++) {
  const { boxes } = test.get(i);
  if (boxes.length >= 3 && overlapping(boxes)) { if (crowded.length < 6) crowded.push(i); } else if (plain.length < 2) plain.push(i);
}
const chosen = [...plain, ...crowded];
const picked = { length: chosen.length, get: (k) => test.get(chosen[k]) };
const detections = detectAll(model, picked).filter((d) => d.score >= 0.5);

// A minimal greyscale PNG: one IDAT of filter-0 rows.
const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc = (bytes) => {
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
const chunk = (type, data) => {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const tail = Buffer.alloc(4);
  tail.writeUInt32BE(crc(body));
  return Buffer.concat([head, body, tail]);
};
function greyPng(pixels, side) {
  const rows = Buffer.alloc((side + 1) * side);
  for (let y = 0; y < side; y++) rows.set(pixels.subarray(y * side, (y + 1) * side), y * (side + 1) + 1);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(side, 0);
  header.writeUInt32BE(side, 4);
  header[8] = 8; // bit depth; colour type 0 (grey), compression, filter and interlace 0
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", header), chunk("IDAT", deflateSync(rows)), chunk("IEND", Buffer.alloc(0))]);
}

const scale = 3, cell = CANVAS_SIDE * scale, pad = 12, top = 34, columns = 4;
const rows = Math.ceil(chosen.length / columns);
const W = columns * cell + (columns + 1) * pad, H = top + rows * (cell + pad + 16) + 22;
const f = (v) => (Math.round(v * 10) / 10).toString();
const parts = [
  `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`,
  `<rect width="${W}" height="${H}" fill="white"/>`,
  `<text x="${pad}" y="22" font-size="15">detect-digits: detections (score &#8805; 0.5) on test canvases of held-out digits</text>`,
];
chosen.forEach((index, k) => {
  const canvas = test.get(index);
  const x = pad + (k % columns) * (cell + pad), y = top + Math.floor(k / columns) * (cell + pad + 16);
  parts.push(`<g transform="translate(${x},${y})">`);
  parts.push(`<image width="${cell}" height="${cell}" style="image-rendering:pixelated" href="data:image/png;base64,${greyPng(canvas.pixels, CANVAS_SIDE).toString("base64")}"/>`);
  for (const b of canvas.boxes) {
    parts.push(`<rect x="${b.x0 * scale}" y="${b.y0 * scale}" width="${(b.x1 - b.x0) * scale}" height="${(b.y1 - b.y0) * scale}" fill="none" stroke="#aaa" stroke-width="1.5" stroke-dasharray="4 3"/>`);
  }
  // Right or wrong as mAP counts it: by descending score, each true box found once.
  const found = new Set();
  const mine = detections.filter((d) => d.image === k).sort((a, b) => b.score - a.score);
  for (const d of mine) {
    let best = -1, bestIou = 0;
    canvas.boxes.forEach((b, j) => {
      const o = b.cls === d.cls ? iou(b, d.box) : 0;
      if (o > bestIou) [best, bestIou] = [j, o];
    });
    const right = best >= 0 && bestIou > 0.5 && !found.has(best);
    if (right) found.add(best);
    const colour = right ? "#1a9850" : "#d73027";
    const bx = d.box.x0 * scale, by = d.box.y0 * scale;
    parts.push(`<rect x="${f(bx)}" y="${f(by)}" width="${f((d.box.x1 - d.box.x0) * scale)}" height="${f((d.box.y1 - d.box.y0) * scale)}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    const label = `${d.cls} ${d.score.toFixed(2)}`;
    const ly = Math.max(13, by - 2);
    parts.push(`<rect x="${f(bx)}" y="${f(ly - 12)}" width="${label.length * 7 + 4}" height="14" fill="${colour}"/>`);
    parts.push(`<text x="${f(bx + 2)}" y="${f(ly - 1)}" font-size="12" fill="white">${label}</text>`);
  }
  parts.push(`<text x="0" y="${cell + 13}" font-size="11" fill="#555">test canvas ${index}: ${canvas.boxes.length} digit${canvas.boxes.length > 1 ? "s" : ""}</text>`);
  parts.push(`</g>`);
});
parts.push(`<text x="${pad}" y="${H - 8}" font-size="11" fill="#555">green: right class, IoU &gt; 0.5 with a true box; red: wrong; grey dashed: the true boxes (ink of each digit)</text>`);
parts.push(`</svg>`);
writeFileSync(out, `${parts.join("\n")}\n`);
console.log(`wrote ${out}: ${chosen.length} canvases, ${detections.length} detections`);
