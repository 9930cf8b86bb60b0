#!/usr/bin/env node
// Draws docs/images/keywords-log-mel.svg: the log-mel spectrograms (Note [log-mel]) the keywords
// recipe's CNN reads, for three words, each spoken by a training voice, by a held-out accent and
// voice, and by that held-out voice with white noise at 10 dB SNR (Note [noise at an SNR]), the
// noisy_accuracy condition. Each panel is its features as the model sees them, standardised per
// clip (Note [keyword features]), as a small PNG inside the SVG, so the file stays small.
//
//   npm run build && node scripts/keywords-figure.mjs      (generates the default clips if need be)
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { deflateSync } from "node:zlib";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = (p) => import(join(root, "dist", p));
const { DEFAULT_SPEECH_PLAN, generateKeywordClips, loadKeywordFolder, mixNoise } = await dist("src/data/keywords.js");
const { keywordFeatures } = await dist("src/data/keywords-features.js");
const { LogMel } = await dist("src/data/log-mel.js");
const { Rng } = await dist("src/util/rng.js");

const folder = loadKeywordFolder(generateKeywordClips(DEFAULT_SPEECH_PLAN));
const words = ["yes", "two", "seven"];
const columns = [
  { title: "training voice (en-us + m1)", side: "train", speaker: "en-us+m1" },
  { title: "held out (en-gb-scotland + f4)", side: "test", speaker: "en-gb-scotland+f4" },
  { title: "held out, white noise at 10 dB SNR", side: "test", speaker: "en-gb-scotland+f4", noise: true },
];

// A perceptually ordered dark-to-light ramp (viridis, 5 stops, linearly interpolated).
const RAMP = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function colour(t) {
  const x = Math.max(0, Math.min(1, t)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x)), f = x - i;
  return RAMP[i].map((c, k) => Math.round(c + (RAMP[i + 1][k] - c) * f));
}

/** A PNG (8-bit RGB, no filter) of `width` x `height` pixels from rgb(x, y). */
function png(width, height, rgb) {
  const crcTable = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0; });
  const crc = (buf) => { let c = 0xffffffff; for (const b of buf) c = crcTable[(c ^ b) & 255] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const chunk = (type, data) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, "ascii");
    data.copy(out, 8);
    out.writeUInt32BE(crc(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; header[9] = 2; // 8 bits, RGB
  const raw = Buffer.alloc(height * (1 + 3 * width));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw.set(rgb(x, y), y * (1 + 3 * width) + 1 + 3 * x);
  }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", header), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}

const logMel = new LogMel();
const bands = logMel.config.bands, frames = logMel.frames(16000);
const cellW = 294, cellH = 120, left = 70, top = 48, gap = 14;
const width = left + columns.length * (cellW + gap), height = top + words.length * (cellH + gap) + 36;
const parts = [
  `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  `<rect width="100%" height="100%" fill="white"/>`,
  `<text x="${left}" y="18" font-size="14" font-weight="bold">Log-mel features of synthetic (espeak-ng) keywords: 40 bands (20 Hz at the bottom to 7.6 kHz), 98 frames of 10 ms</text>`,
];
columns.forEach((c, j) => parts.push(`<text x="${left + j * (cellW + gap) + cellW / 2}" y="${top - 8}" text-anchor="middle">${c.title}</text>`));
words.forEach((word, i) => {
  const y0 = top + i * (cellH + gap);
  parts.push(`<text x="${left - 10}" y="${y0 + cellH / 2 + 4}" text-anchor="end" font-weight="bold">"${word}"</text>`);
  columns.forEach((c, j) => {
    const label = folder.words.indexOf(word);
    const clip = folder[c.side].find((k) => k.label === label && k.speaker === c.speaker);
    if (!clip) throw new Error(`no clip of "${word}" by ${c.speaker} on the ${c.side} side`);
    const window = c.noise ? mixNoise(clip.samples, clip.speechPower, 10, "white", new Rng(1009).fork(i)) : clip.samples;
    const f = keywordFeatures(window, logMel);
    // Standardised features: -2.5 .. 2.5 standard deviations across the ramp.
    const image = png(frames, bands, (x, y) => colour((f[(bands - 1 - y) * frames + x] + 2.5) / 5));
    parts.push(`<image x="${left + j * (cellW + gap)}" y="${y0}" width="${cellW}" height="${cellH}" preserveAspectRatio="none" style="image-rendering:pixelated" href="data:image/png;base64,${image.toString("base64")}"/>`);
  });
});
parts.push(`<text x="${left}" y="${height - 12}" fill="#555">Time runs left to right over the one-second window; each panel is standardised per clip, as the model reads it. Made by scripts/keywords-figure.mjs.</text>`);
parts.push("</svg>");
const out = join(root, "docs", "images", "keywords-log-mel.svg");
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, parts.join("\n") + "\n");
console.log(`wrote ${out}`);
