// Synthetic medical-imaging-style phantoms for lesion segmentation: 64 x 64 grey-level "slices"
// of a textured body with 0 to 3 elliptical lesions, each with its exact mask. They are clearly
// synthetic: no scanner, patient or anatomy is behind them. They stand in for real scans, which
// cannot be had offline at training scale; nifti-slices.ts reads real NIfTI volumes into the same
// samples, so a deployment trains the same model on its own scans.
//
// Note [lesion phantoms]
// A phantom of side S (64) is drawn from its own generator, Rng(LESION_PHANTOM_SEED).fork(split)
// .fork(i) (split 0 = train, 1 = test), so phantom i is the same whatever the number asked for
// and the two splits never share one. Drawn in this order (u(a, b) uniform):
//
//   body      an ellipse, centre S/2 + u(-3, 3) on each axis, semi-axes S u(0.36, 0.46) and
//             S u(0.30, 0.40), at an angle u(0, pi). Inside, tissue of grey 0.45; a rim of grey
//             0.70, 2 px wide, along its edge (skin and fat); outside, air of grey 0. The edge is a
//             ramp 1.5 px wide (a partial-volume effect).
//   organs    1 or 2 large ellipses inside the body (semi-axes u(6, 13) and 0.6 to 1 times that),
//             contrast ±u(0.04, 0.10), their edge a ramp 4 px wide: soft, large structures that
//             a lesion detector must learn to leave alone. Not in the mask.
//   texture   inside the body, two layers of Gaussian-smoothed white noise: fine (sigma 1 px,
//             standard deviation 0.04) and coarse (sigma 3 px, 0.05): tissue grain and
//             inhomogeneity.
//   lesions   k = 0, 1, 2 or 3 (equally likely). Each an ellipse, semi-axes a = u(3, 8) and
//             a u(0.5, 1) px, at an angle u(0, pi), its centre placed (by rejection, at most 200
//             tries) so that the whole lesion lies at least 3 px inside the body's inner edge and
//             at least 2 px from every other lesion (one that finds no place is left out, so a
//             phantom may hold fewer than k). Contrast: brighter or darker (equally likely), by
//             u(0.12, 0.20) for one lesion in three (low contrast: two to three times the
//             texture's standard deviation, and barely more than an organ's) and by u(0.20, 0.45)
//             otherwise. A pixel's share of the lesion is its coverage, counted on a 4 x 4 grid of
//             sub-pixel points, so edges are partial, as in a scan.
//   blur      the whole image convolved with a Gaussian of sigma u(0.6, 1.2) px (the scanner's
//             point-spread function)
//   noise     plus white Gaussian noise of standard deviation u(0.01, 0.04) (acquisition noise).
//
// The mask is exact: a pixel is lesion (1) when its centre lies inside a lesion's ellipse, and
// background (0) otherwise, whatever the blur and noise did to the image. The image the model
// reads is the grey value minus PHANTOM_MEAN, over PHANTOM_STD: fixed constants, so every phantom
// is scaled alike (the scaled training set has mean -0.32 and standard deviation 0.95; air is
// -1.2, tissue +0.6).
//
// Generated phantoms are cached under $WEFT_CACHE (default ~/.cache/weft)/lesions/<version key>/,
// one file per split and count: the first use generates them (a few seconds), later runs read
// them. The key names the generator's version, the side and the seed; a change to anything above
// must bump LESION_PHANTOM_VERSION.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { Rng } from "../util/rng.js";
import type { Dataset } from "./dataset.js";

/** Side of a phantom, in pixels. */
export const PHANTOM_SIDE = 64;
/** The root seed of every phantom (Note [lesion phantoms]); fixed, so every run sees the same data. */
export const LESION_PHANTOM_SEED = 15;
/** Bumped whenever the generator draws differently: old caches are then ignored. */
export const LESION_PHANTOM_VERSION = 2;
/** The most lesions a phantom holds. */
export const MAX_LESIONS = 3;
/** Fixed scaling of grey values into the model's input: (grey - MEAN) / STD. */
export const PHANTOM_MEAN = 0.3;
export const PHANTOM_STD = 0.25;

/** One image with its mask, both row-major height x width. */
export interface LesionSample {
  /** Intensities, scaled for the model (mean near 0, spread near 1). */
  readonly image: Float32Array;
  /** 1 on lesion pixels, 0 elsewhere. */
  readonly mask: Uint8Array;
  readonly height: number;
  readonly width: number;
}

/** One lesion as drawn: centre (x right, y down, in pixels from the top-left corner), semi-axes, angle, contrast. */
export interface LesionEllipse {
  cx: number;
  cy: number;
  a: number;
  b: number;
  angle: number;
  contrast: number;
}

/** A phantom as drawn: the grey image (unscaled), its mask, and its lesions. */
export interface Phantom {
  grey: Float32Array;
  mask: Uint8Array;
  lesions: LesionEllipse[];
}

const uniform = (rng: Rng, lo: number, hi: number): number => lo + (hi - lo) * rng.next();

/** An ellipse ready to test points against: centre, semi-axes and its angle's cosine and sine. */
interface EllipseFrame {
  cx: number;
  cy: number;
  a: number;
  b: number;
  cos: number;
  sin: number;
}

const frame = (e: { cx: number; cy: number; a: number; b: number; angle: number }): EllipseFrame =>
  ({ cx: e.cx, cy: e.cy, a: e.a, b: e.b, cos: Math.cos(e.angle), sin: Math.sin(e.angle) });

/** Where (x, y) lies relative to an ellipse: below 1 inside, 1 on its edge, above 1 outside. */
function ellipseRadius(x: number, y: number, e: EllipseFrame): number {
  const dx = x - e.cx, dy = y - e.cy;
  const u = (dx * e.cos + dy * e.sin) / e.a, v = (-dx * e.sin + dy * e.cos) / e.b;
  return Math.sqrt(u * u + v * v);
}

/**
 * In-place Gaussian blur of a side x side image (separable, the kernel cut at 3 sigma, edges
 * clamped: the pixels past the border repeat the border's).
 */
export function gaussianBlur(image: Float32Array, height: number, width: number, sigma: number): Float32Array {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const kernel = new Float64Array(2 * radius + 1);
  let total = 0;
  for (let k = -radius; k <= radius; k++) total += kernel[k + radius] = Math.exp((-k * k) / (2 * sigma * sigma));
  for (let k = 0; k < kernel.length; k++) kernel[k]! /= total;
  const tmp = new Float64Array(height * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let k = -radius; k <= radius; k++) acc += kernel[k + radius]! * image[y * width + Math.min(width - 1, Math.max(0, x + k))]!;
      tmp[y * width + x] = acc;
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let k = -radius; k <= radius; k++) acc += kernel[k + radius]! * tmp[Math.min(height - 1, Math.max(0, y + k)) * width + x]!;
      image[y * width + x] = acc;
    }
  }
  return image;
}

/** Smoothed white noise scaled to standard deviation `std` (measured, not assumed). */
function smoothNoise(rng: Rng, side: number, sigma: number, std: number): Float32Array {
  const n = Float32Array.from({ length: side * side }, () => rng.normal());
  gaussianBlur(n, side, side, sigma);
  let mean = 0, sq = 0;
  for (const v of n) mean += v;
  mean /= n.length;
  for (const v of n) sq += (v - mean) ** 2;
  const scale = std / Math.sqrt(sq / n.length);
  for (let i = 0; i < n.length; i++) n[i] = (n[i]! - mean) * scale;
  return n;
}

/** A ramp from 1 (inside) to 0 (outside) across an ellipse's edge, `width` pixels wide. */
function softInside(x: number, y: number, e: EllipseFrame, width: number): number {
  // (1 - r) * min(a, b) approximates the distance to the edge near it (exact for a circle).
  const d = (1 - ellipseRadius(x, y, e)) * Math.min(e.a, e.b);
  return Math.min(1, Math.max(0, 0.5 + d / width));
}

/**
 * Draws one phantom (Note [lesion phantoms]) from `rng`.
 *
 * @example A phantom's mask marks exactly the pixel centres inside its lesions
 * ```ts
 * const p = drawPhantom(new Rng(3), 64);
 * assert.equal(p.grey.length, 64 * 64);
 * const inside = (x: number, y: number) => p.lesions.some((e) => {
 *   const c = Math.cos(e.angle), s = Math.sin(e.angle), dx = x - e.cx, dy = y - e.cy;
 *   return ((dx * c + dy * s) / e.a) ** 2 + ((-dx * s + dy * c) / e.b) ** 2 <= 1;
 * });
 * for (let i = 0; i < 64 * 64; i++) assert.equal(p.mask[i], inside((i % 64) + 0.5, Math.floor(i / 64) + 0.5) ? 1 : 0);
 * ```
 */
export function drawPhantom(rng: Rng, side = PHANTOM_SIDE): Phantom {
  const scale = side / 64;
  const body = {
    cx: side / 2 + uniform(rng, -3, 3) * scale, cy: side / 2 + uniform(rng, -3, 3) * scale,
    a: side * uniform(rng, 0.36, 0.46), b: side * uniform(rng, 0.3, 0.4), angle: uniform(rng, 0, Math.PI),
  };
  const rim = 2 * scale;
  const outer = frame(body);
  const inner = frame({ ...body, a: body.a - rim, b: body.b - rim });
  const organs = Array.from({ length: 1 + rng.int(2) }, () => {
    const a = uniform(rng, 6, 13) * scale;
    const r = Math.sqrt(rng.next()) * 0.6;
    const t = uniform(rng, 0, 2 * Math.PI);
    // A point at normalised radius r of the inner ellipse (unrotated frame, then rotated).
    const px = r * inner.a * Math.cos(t), py = r * inner.b * Math.sin(t);
    const c = Math.cos(body.angle), s = Math.sin(body.angle);
    const shape = frame({ cx: body.cx + px * c - py * s, cy: body.cy + px * s + py * c, a, b: a * uniform(rng, 0.6, 1), angle: uniform(rng, 0, Math.PI) });
    return { shape, contrast: (rng.next() < 0.5 ? -1 : 1) * uniform(rng, 0.04, 0.1) };
  });
  const fine = smoothNoise(rng, side, 1 * scale, 0.04);
  const coarse = smoothNoise(rng, side, 3 * scale, 0.05);

  const lesions: LesionEllipse[] = [];
  const count = rng.int(MAX_LESIONS + 1);
  const margin = 3 * scale;
  for (let k = 0; k < count; k++) {
    const a = uniform(rng, 3, 8) * scale;
    const b = a * uniform(rng, 0.5, 1);
    const angle = uniform(rng, 0, Math.PI);
    const low = rng.next() < 1 / 3;
    const contrast = (rng.next() < 0.5 ? -1 : 1) * (low ? uniform(rng, 0.12, 0.2) : uniform(rng, 0.2, 0.45));
    for (let attempt = 0; attempt < 200; attempt++) {
      const cx = uniform(rng, body.cx - body.a, body.cx + body.a), cy = uniform(rng, body.cy - body.a, body.cy + body.a);
      // The lesion's edge, and a margin around it, must lie inside the inner body.
      let fits = true;
      for (let j = 0; j < 24 && fits; j++) {
        const t = (2 * Math.PI * j) / 24, c = Math.cos(angle), s = Math.sin(angle);
        const ex = (a + margin) * Math.cos(t), ey = (b + margin) * Math.sin(t);
        if (ellipseRadius(cx + ex * c - ey * s, cy + ex * s + ey * c, inner) >= 1) fits = false;
      }
      // Apart from the others: centres further than the sum of the long semi-axes and 2 px.
      if (fits && lesions.every((o) => Math.hypot(o.cx - cx, o.cy - cy) > o.a + a + 2 * scale)) {
        lesions.push({ cx, cy, a, b, angle, contrast });
        break;
      }
    }
  }

  const shapes = lesions.map(frame);
  const grey = new Float32Array(side * side);
  const mask = new Uint8Array(side * side);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const px = x + 0.5, py = y + 0.5, i = y * side + x;
      const inBody = softInside(px, py, outer, 1.5 * scale);
      const inTissue = softInside(px, py, inner, 1.5 * scale);
      let v = 0.7 * (inBody - inTissue) + 0.45 * inTissue;
      for (const o of organs) v += o.contrast * softInside(px, py, o.shape, 4 * scale) * inTissue;
      v += (fine[i]! + coarse[i]!) * inBody;
      lesions.forEach((e, k) => {
        const f = shapes[k]!;
        const r = ellipseRadius(px, py, f);
        // A sub-pixel point is within 0.71 px of the centre: past this radius none can be inside.
        if (r > 1 + 1 / Math.min(e.a, e.b)) return;
        let covered = 0;
        for (let sy = 0; sy < 4; sy++) for (let sx = 0; sx < 4; sx++) if (ellipseRadius(x + (sx + 0.5) / 4, y + (sy + 0.5) / 4, f) <= 1) covered++;
        v += e.contrast * (covered / 16);
        if (r <= 1) mask[i] = 1;
      });
      grey[i] = v;
    }
  }
  gaussianBlur(grey, side, side, uniform(rng, 0.6, 1.2) * scale);
  const noise = uniform(rng, 0.01, 0.04);
  for (let i = 0; i < grey.length; i++) grey[i]! += noise * rng.normal();
  return { grey, mask, lesions };
}

/** The two fixed splits of the phantom set. */
export type PhantomSplit = "train" | "test";
const SPLIT_STREAM: Readonly<Record<PhantomSplit, number>> = { train: 0, test: 1 };

/** Phantom `index` of a split: its own generator (Note [lesion phantoms]). */
export function phantomAt(split: PhantomSplit, index: number, side = PHANTOM_SIDE): Phantom {
  return drawPhantom(new Rng(LESION_PHANTOM_SEED).fork(SPLIT_STREAM[split]).fork(index), side);
}

/** Where Weft keeps generated data: $WEFT_CACHE, or ~/.cache/weft. */
export function weftCacheRoot(): string {
  return process.env.WEFT_CACHE ?? join(homedir(), ".cache", "weft");
}

/** A set of images and masks of one size, stored contiguously. */
export class LesionImages implements Dataset<LesionSample> {
  readonly length: number;

  constructor(
    /** length x height x width scaled intensities. */
    readonly images: Float32Array,
    /** length x height x width, 1 on lesion pixels. */
    readonly masks: Uint8Array,
    readonly height: number,
    readonly width: number,
  ) {
    const pixels = height * width;
    if (images.length % pixels !== 0 || masks.length !== images.length) {
      throw new RangeError(`LesionImages: ${images.length} intensities and ${masks.length} mask values are not whole ${height} x ${width} images of both`);
    }
    this.length = images.length / pixels;
  }

  get(index: number): LesionSample {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) throw new RangeError(`LesionImages: index ${index} is not in [0, ${this.length})`);
    const p = this.height * this.width;
    return { image: this.images.subarray(index * p, (index + 1) * p), mask: this.masks.subarray(index * p, (index + 1) * p), height: this.height, width: this.width };
  }
}

const MAGIC = "WEFTLSN1";
const HEADER_BYTES = 16;

/** The cache file of a split's first `count` phantoms. */
export function phantomCachePath(split: PhantomSplit, count: number, side = PHANTOM_SIDE): string {
  return join(weftCacheRoot(), "lesions", `v${LESION_PHANTOM_VERSION}-side${side}-seed${LESION_PHANTOM_SEED}`, `${split}-${count}.bin`);
}

function generate(split: PhantomSplit, count: number, side: number): LesionImages {
  const p = side * side;
  const images = new Float32Array(count * p);
  const masks = new Uint8Array(count * p);
  for (let i = 0; i < count; i++) {
    const { grey, mask } = phantomAt(split, i, side);
    for (let j = 0; j < p; j++) images[i * p + j] = (grey[j]! - PHANTOM_MEAN) / PHANTOM_STD;
    masks.set(mask, i * p);
  }
  return new LesionImages(images, masks, side, side);
}

/** The cached set if the file is whole and its first phantom is what the generator draws now. */
function readCache(path: string, split: PhantomSplit, count: number, side: number): LesionImages | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    return undefined;
  }
  const p = side * side;
  if (bytes.length !== HEADER_BYTES + count * p * 5 || bytes.toString("latin1", 0, 8) !== MAGIC) return undefined;
  if (bytes.readUInt32LE(8) !== count || bytes.readUInt32LE(12) !== side) return undefined;
  // Copies, so the arrays are aligned and the buffer can go.
  const images = new Float32Array(bytes.buffer.slice(bytes.byteOffset + HEADER_BYTES, bytes.byteOffset + HEADER_BYTES + count * p * 4));
  const masks = new Uint8Array(bytes.buffer.slice(bytes.byteOffset + HEADER_BYTES + count * p * 4, bytes.byteOffset + bytes.length));
  const set = new LesionImages(images, masks, side, side);
  const fresh = generate(split, 1, side).get(0);
  const first = set.get(0);
  if (count > 0 && (!first.image.every((v, i) => v === fresh.image[i]) || !first.mask.every((v, i) => v === fresh.mask[i]))) return undefined;
  return set;
}

const loaded = new Map<string, LesionImages>();

/**
 * The first `count` phantoms of a split (Note [lesion phantoms]): read from the cache, or generated
 * and cached on first use. Kept in memory per process; treat the arrays as read-only.
 *
 * @example The same phantoms every time, and the test split is not the training split
 * ```ts
 * process.env.WEFT_CACHE = process.cwd();
 * const train = loadLesionPhantoms("train", 4);
 * assert.equal(train.length, 4);
 * assert.deepEqual(train.get(2).mask, loadLesionPhantoms("train", 3).get(2).mask);
 * assert.notDeepEqual(loadLesionPhantoms("test", 4).get(0).image, train.get(0).image);
 * ```
 */
export function loadLesionPhantoms(split: PhantomSplit, count: number, side = PHANTOM_SIDE): LesionImages {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`loadLesionPhantoms: count ${count} must be a positive integer`);
  if (!Number.isInteger(side) || side < 8 || side % 4 !== 0) throw new RangeError(`loadLesionPhantoms: side ${side} must be a multiple of 4, at least 8`);
  const path = phantomCachePath(split, count, side);
  const key = `${path}`;
  const inMemory = loaded.get(key);
  if (inMemory) return inMemory;
  let set = readCache(path, split, count, side);
  if (!set) {
    set = generate(split, count, side);
    const header = Buffer.alloc(HEADER_BYTES);
    header.write(MAGIC, 0, "latin1");
    header.writeUInt32LE(count, 8);
    header.writeUInt32LE(side, 12);
    try {
      mkdirSync(dirname(path), { recursive: true });
      // Written aside and renamed: workers generating the same file at once never read a half-written one.
      const partial = `${path}.${process.pid}.partial`;
      writeFileSync(partial, Buffer.concat([header, Buffer.from(set.images.buffer, set.images.byteOffset, set.images.byteLength), Buffer.from(set.masks)]));
      renameSync(partial, path);
    } catch {
      // A read-only or full disk only costs the next run the generation again.
    }
  }
  loaded.set(key, set);
  return set;
}
