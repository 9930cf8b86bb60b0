// Digit canvases for object detection: 1 to 4 real MNIST digits composited at random scales and
// positions on a 96x96 canvas, each with its class and its box. The digits are real (the mnist
// package's, through data/mnist.ts); the scenes are composited here, seeded, so the same canvases
// come out on every machine. Training canvases draw only training digits; test canvases use each
// of the 2,000 held-out digits exactly once (Note [digit canvases]).
//
// Note [digit canvases]
// A canvas is built from its digits and its own generator (root.fork(canvas index)), so canvas i
// is the same whatever was built before it:
//  1. Each digit gets a scale s, uniform in [DIGIT_SCALE_MIN, DIGIT_SCALE_MAX] (a 28x28 cell
//     becomes about 22 to 45 pixels), and is resampled bilinearly at that scale: patch pixel
//     (u, v) reads the digit at ((u + 0.5) / s - 0.5, (v + 0.5) / s - 0.5), zero outside it.
//  2. Its box is the ink, not the cell: the tightest box around the patch pixels of value
//     >= INK_THRESHOLD, as edges (x0 <= x < x1). Digits are drawn at about 20x20 inside their
//     28x28 cells, so a cell's box would be a third too big and centred on nothing.
//  3. The box is placed at a uniform integer position inside the canvas, retried until no more
//     than MAX_BOX_COVER of its area lies in any box already placed, nor of that box's area in
//     it. Digits may touch and overlap a little, as objects in photographs do, so a box can hold
//     some of a neighbour's ink, and nothing that merely finds connected ink separates them (see
//     detect-digits-baseline.ts); no digit is hidden behind another, nor a 1 drawn inside a 0.
//     After PLACEMENT_TRIES failures for one digit, the whole layout starts again with every
//     scale cut by 10%, which always ends: small enough digits fit.
//  4. The patch is drawn with a per-pixel maximum (ink over ink stays ink, never brighter than 1),
//     and the canvas is stored as bytes, round(255 v): the package's digits are byte values
//     already, so little is lost, and 10,000 canvases take 92 MB, not 369.
// Only integer arithmetic, Rng's exact maths and IEEE adds and multiplies are involved (no
// transcendental functions), so the canvases cannot differ between machines;
// test/data/detect-digits.test.ts pins a digest.
//
// Training canvases draw 1 + rng.int(4) digits uniformly, with replacement, from the training
// digits. Test canvases take the held-out digits in one fixed permutation and cut it into runs of
// 1 + rng.int(4) (the last run what is left), so every held-out digit appears once and no
// training digit ever does: the test scenes are composited, the test digits are unseen.
//
// Canvases are generated on first use and cached (Note [digit canvas cache]).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import type { Box } from "../metrics/detection.js";
import { Rng } from "../util/rng.js";
import type { Dataset } from "./dataset.js";
import { loadMnist, MNIST_PIXELS, MNIST_SIDE } from "./mnist.js";

/** Canvas side, in pixels. */
export const CANVAS_SIDE = 96;
export const CANVAS_PIXELS = CANVAS_SIDE * CANVAS_SIDE;
/** Digits per canvas: 1 to this many. */
export const MAX_DIGITS_PER_CANVAS = 4;
/** Scale of a 28x28 digit cell on the canvas (uniform in between). */
export const DIGIT_SCALE_MIN = 0.8;
export const DIGIT_SCALE_MAX = 1.6;
/** A resampled pixel at least this bright is ink, and counts for the digit's box. */
export const INK_THRESHOLD = 0.25;
/** The most of a digit's box that another digit's box may cover (Note [digit canvases], step 3). */
export const MAX_BOX_COVER = 0.25;
/** Placements tried for one digit before the layout starts again smaller. */
export const PLACEMENT_TRIES = 50;
/** The seed of the canvases (not the run's --seed: every run scores on the same test canvases). */
export const DETECT_DIGITS_SEED = 20261202;
/** Training canvases the recipe composites by default. */
export const DETECT_DIGITS_TRAIN_CANVASES = 8000;
/**
 * Mean and standard deviation of the default training canvases' pixels, as values in [0, 1]
 * (computed once from them; the test suite recomputes them). Normalize as (v / 255 - MEAN) / STD.
 */
export const DETECT_DIGITS_MEAN = 0.041;
export const DETECT_DIGITS_STD = 0.173;
/** Bumped whenever anything in Note [digit canvases] changes, so old caches are not read. */
export const DETECT_DIGITS_VERSION = 2;

/** One object on a canvas: the digit's class and its ink box. */
export interface DigitBox extends Box {
  cls: number;
}

/** One canvas as the loader hands it out: its index, its bytes (a view: never write) and its boxes. */
export interface DigitCanvas {
  index: number;
  /** CANVAS_PIXELS bytes, row-major, 0 (background) to 255 (ink). */
  pixels: Uint8Array;
  boxes: DigitBox[];
}

/** Digits to composite from: `length` images of 28x28 values in [0, 1], and their classes. */
export interface DigitSource {
  readonly length: number;
  readonly images: Float32Array;
  readonly labels: ArrayLike<number>;
}

/** A set of canvases: pixels, boxes, and which source digit each box shows. */
export class DigitCanvases implements Dataset<DigitCanvas> {
  readonly length: number;

  /**
   * @param pixels     length x CANVAS_PIXELS bytes
   * @param boxStart   length + 1 offsets: canvas i owns boxes boxStart[i] .. boxStart[i + 1] - 1
   * @param boxes      4 numbers per box: x0, y0, x1, y1
   * @param classes    one class per box
   * @param sources    one source-digit index per box (into the DigitSource it was built from)
   */
  constructor(
    readonly pixels: Uint8Array,
    readonly boxStart: Int32Array,
    readonly boxes: Float32Array,
    readonly classes: Uint8Array,
    readonly sources: Int32Array,
  ) {
    this.length = boxStart.length - 1;
    const n = boxStart[this.length]!;
    if (pixels.length !== this.length * CANVAS_PIXELS || boxes.length !== 4 * n || classes.length !== n || sources.length !== n) {
      throw new RangeError(
        `DigitCanvases: ${this.length} canvases with ${n} boxes need ${this.length * CANVAS_PIXELS} pixels, ${4 * n} box edges and ${n} classes and sources; ` +
          `got ${pixels.length}, ${boxes.length}, ${classes.length} and ${sources.length}`,
      );
    }
  }

  /** The first `count` canvases (views of these arrays, no copies). */
  prefix(count: number): DigitCanvases {
    if (!Number.isInteger(count) || count < 1 || count > this.length) {
      throw new RangeError(`DigitCanvases: cannot take the first ${count} of ${this.length} canvases: ask for 1 to ${this.length}`);
    }
    const n = this.boxStart[count]!;
    return new DigitCanvases(this.pixels.subarray(0, count * CANVAS_PIXELS), this.boxStart.subarray(0, count + 1), this.boxes.subarray(0, 4 * n), this.classes.subarray(0, n), this.sources.subarray(0, n));
  }

  /** Boxes on all canvases. */
  get boxCount(): number {
    return this.boxStart[this.length]!;
  }

  get(index: number): DigitCanvas {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new RangeError(`DigitCanvases: index ${index} is outside these ${this.length} canvases`);
    }
    const boxes: DigitBox[] = [];
    for (let b = this.boxStart[index]!; b < this.boxStart[index + 1]!; b++) {
      const e = this.boxes.subarray(4 * b, 4 * b + 4);
      boxes.push({ cls: this.classes[b]!, x0: e[0]!, y0: e[1]!, x1: e[2]!, y1: e[3]! });
    }
    return { index, pixels: this.pixels.subarray(index * CANVAS_PIXELS, (index + 1) * CANVAS_PIXELS), boxes };
  }
}

/** A digit resampled at a scale: its patch (side x side values) and the ink box within it. */
interface Patch {
  side: number;
  values: Float32Array;
  ink: Box;
}

/**
 * Resamples a 28x28 digit by `scale` (bilinear, zero outside; Note [digit canvases] step 1) and
 * finds its ink box (step 2). A digit with no ink at all gets the whole patch as its box.
 */
function resample(digit: Float32Array, scale: number): Patch {
  const side = Math.ceil(MNIST_SIDE * scale);
  const values = new Float32Array(side * side);
  const at = (x: number, y: number): number => (x >= 0 && x < MNIST_SIDE && y >= 0 && y < MNIST_SIDE ? digit[y * MNIST_SIDE + x]! : 0);
  let x0 = side, y0 = side, x1 = 0, y1 = 0;
  for (let v = 0; v < side; v++) {
    const sy = (v + 0.5) / scale - 0.5;
    const fy = Math.floor(sy), wy = sy - fy;
    for (let u = 0; u < side; u++) {
      const sx = (u + 0.5) / scale - 0.5;
      const fx = Math.floor(sx), wx = sx - fx;
      const value =
        (1 - wy) * ((1 - wx) * at(fx, fy) + wx * at(fx + 1, fy)) + wy * ((1 - wx) * at(fx, fy + 1) + wx * at(fx + 1, fy + 1));
      values[v * side + u] = value;
      if (value >= INK_THRESHOLD) {
        x0 = Math.min(x0, u);
        y0 = Math.min(y0, v);
        x1 = Math.max(x1, u + 1);
        y1 = Math.max(y1, v + 1);
      }
    }
  }
  return { side, values, ink: x1 > x0 ? { x0, y0, x1, y1 } : { x0: 0, y0: 0, x1: side, y1: side } };
}

/** Whether either box has more than MAX_BOX_COVER of its area inside the other. */
function tooClose(a: Box, b: Box): boolean {
  const w = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0), h = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0);
  if (w <= 0 || h <= 0) return false;
  const smaller = Math.min((a.x1 - a.x0) * (a.y1 - a.y0), (b.x1 - b.x0) * (b.y1 - b.y0));
  return w * h > MAX_BOX_COVER * smaller;
}

/**
 * Composites `digits` (indices into `source`) onto one canvas with `rng` (Note [digit canvases]),
 * writing CANVAS_PIXELS bytes into `out`. Returns the boxes, in the order of `digits`.
 *
 * @example Two digits: their classes, boxes inside the canvas, ink drawn
 * ```ts
 * const { train } = loadMnist();
 * const out = new Uint8Array(CANVAS_PIXELS);
 * const boxes = composeCanvas(train, [0, 1], new Rng(7), out);
 * assert.deepEqual(boxes.map((b) => b.cls), [train.labels[0], train.labels[1]]);
 * assert.ok(boxes.every((b) => b.x0 >= 0 && b.x1 <= CANVAS_SIDE && b.x1 - b.x0 > 0));
 * assert.ok(out.some((v) => v > 200));
 * ```
 */
export function composeCanvas(source: DigitSource, digits: readonly number[], rng: Rng, out: Uint8Array): DigitBox[] {
  if (digits.length < 1 || digits.length > MAX_DIGITS_PER_CANVAS) {
    throw new RangeError(`composeCanvas: ${digits.length} digits; a canvas holds 1 to ${MAX_DIGITS_PER_CANVAS}`);
  }
  const scales = digits.map(() => DIGIT_SCALE_MIN + (DIGIT_SCALE_MAX - DIGIT_SCALE_MIN) * rng.next());
  const pictures = digits.map((d) => {
    if (!Number.isInteger(d) || d < 0 || d >= source.length) throw new RangeError(`composeCanvas: digit ${d} is outside the source's ${source.length}`);
    return source.images.subarray(d * MNIST_PIXELS, (d + 1) * MNIST_PIXELS);
  });
  for (let shrink = 1; ; shrink *= 0.9) {
    const patches = pictures.map((p, i) => resample(p, scales[i]! * shrink));
    const placed: Box[] = [];
    const offsets: [number, number][] = [];
    for (const patch of patches) {
      const w = patch.ink.x1 - patch.ink.x0, h = patch.ink.y1 - patch.ink.y0;
      let box: Box | undefined;
      for (let t = 0; t < PLACEMENT_TRIES && !box && w <= CANVAS_SIDE && h <= CANVAS_SIDE; t++) {
        // Box positions with the box wholly inside the canvas; the patch's empty margin may hang over.
        const bx = rng.int(CANVAS_SIDE - w + 1), by = rng.int(CANVAS_SIDE - h + 1);
        const candidate = { x0: bx, y0: by, x1: bx + w, y1: by + h };
        if (!placed.some((p) => tooClose(p, candidate))) box = candidate;
      }
      if (!box) break;
      placed.push(box);
      offsets.push([box.x0 - patch.ink.x0, box.y0 - patch.ink.y0]);
    }
    if (placed.length < digits.length) continue;
    out.fill(0);
    patches.forEach((patch, i) => {
      const [ox, oy] = offsets[i]!;
      for (let v = 0; v < patch.side; v++) {
        const y = oy + v;
        if (y < 0 || y >= CANVAS_SIDE) continue;
        for (let u = 0; u < patch.side; u++) {
          const x = ox + u;
          if (x < 0 || x >= CANVAS_SIDE) continue;
          const byte = Math.round(Math.min(1, Math.max(0, patch.values[v * patch.side + u]!)) * 255);
          if (byte > out[y * CANVAS_SIDE + x]!) out[y * CANVAS_SIDE + x] = byte;
        }
      }
    });
    return placed.map((b, i) => ({ cls: source.labels[digits[i]!]!, ...b }));
  }
}

/** Builds a canvas set from each canvas's digit list; canvas i is composited with root.fork(i). */
function composeAll(source: DigitSource, layouts: readonly number[][], root: Rng): DigitCanvases {
  const pixels = new Uint8Array(layouts.length * CANVAS_PIXELS);
  const boxStart = new Int32Array(layouts.length + 1);
  const n = layouts.reduce((s, l) => s + l.length, 0);
  const boxes = new Float32Array(4 * n);
  const classes = new Uint8Array(n);
  const sources = new Int32Array(n);
  let b = 0;
  layouts.forEach((digits, i) => {
    const placed = composeCanvas(source, digits, root.fork(i), pixels.subarray(i * CANVAS_PIXELS, (i + 1) * CANVAS_PIXELS));
    placed.forEach((box, k) => {
      boxes.set([box.x0, box.y0, box.x1, box.y1], 4 * b);
      classes[b] = box.cls;
      sources[b] = digits[k]!;
      b++;
    });
    boxStart[i + 1] = b;
  });
  return new DigitCanvases(pixels, boxStart, boxes, classes, sources);
}

// Layouts and canvases take distinct streams of the seed: 0 lays out, 1 composites.
const LAYOUT_STREAM = 0;
const CANVAS_STREAM = 1;

/**
 * `count` training canvases, each of 1 to 4 digits drawn uniformly (with replacement) from
 * `source` (Note [digit canvases]). Canvas i depends on (seed, i) only: a smaller set is a prefix
 * of a larger one.
 *
 * @example
 * ```ts
 * const canvases = composeTrainCanvases(loadMnist().train, 3, 1);
 * assert.equal(canvases.length, 3);
 * assert.ok(canvases.boxCount >= 3 && canvases.boxCount <= 12);
 * ```
 */
export function composeTrainCanvases(source: DigitSource, count: number, seed: number): DigitCanvases {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`composeTrainCanvases: count ${count} must be a positive integer`);
  const layout = new Rng(seed).fork(LAYOUT_STREAM);
  const layouts = Array.from({ length: count }, (_, i) => {
    const r = layout.fork(i);
    return Array.from({ length: 1 + r.int(MAX_DIGITS_PER_CANVAS) }, () => r.int(source.length));
  });
  return composeAll(source, layouts, new Rng(seed).fork(CANVAS_STREAM));
}

/**
 * Test canvases that use every digit of `source` exactly once: a fixed permutation cut into runs
 * of 1 to 4 (Note [digit canvases]).
 */
export function composeHeldOutCanvases(source: DigitSource, seed: number): DigitCanvases {
  const layout = new Rng(seed).fork(LAYOUT_STREAM);
  const order = layout.fork(0).shuffle(Array.from({ length: source.length }, (_, i) => i));
  const sizes = layout.fork(1);
  const layouts: number[][] = [];
  for (let at = 0; at < order.length; ) {
    const k = Math.min(1 + sizes.int(MAX_DIGITS_PER_CANVAS), order.length - at);
    layouts.push(order.slice(at, at + k));
    at += k;
  }
  return composeAll(source, layouts, new Rng(seed).fork(CANVAS_STREAM));
}

// Note [digit canvas cache]
// Composited canvases are cached under $WEFT_CACHE (default ~/.cache/weft)/detect-digits/<key>/,
// the key naming the version and every parameter that shapes them (source, counts, seed), one
// file per split: a JSON header line (counts, and the SHA-256 of the arrays after it), then the
// arrays' bytes back to back. A file whose digest does not match is composited again, so a
// half-written or damaged file costs a rebuild, never a wrong data set. Files are written to a
// temporary name and renamed into place: two workers starting together may both composite, and
// whichever renames last leaves the same bytes.

/** Where Weft keeps generated data: $WEFT_CACHE, or ~/.cache/weft. */
export function weftCacheDir(): string {
  return process.env.WEFT_CACHE ?? join(homedir(), ".cache", "weft");
}

interface CacheHeader {
  canvases: number;
  boxes: number;
  sha256: string;
}

function arraysOf(c: DigitCanvases): Uint8Array[] {
  const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  return [bytes(c.boxStart), bytes(c.boxes), bytes(c.sources), c.classes, c.pixels];
}

function digestOf(parts: readonly Uint8Array[]): string {
  const hash = createHash("sha256");
  for (const p of parts) hash.update(p);
  return hash.digest("hex");
}

function writeCache(path: string, c: DigitCanvases): void {
  const parts = arraysOf(c);
  const header: CacheHeader = { canvases: c.length, boxes: c.boxCount, sha256: digestOf(parts) };
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), ...parts]));
  renameSync(temporary, path);
}

/** The canvases in `path`, or undefined when the file is missing, short or fails its digest. */
function readCache(path: string): DigitCanvases | undefined {
  if (!existsSync(path)) return undefined;
  const file = readFileSync(path);
  const newline = file.indexOf(10);
  if (newline < 0) return undefined;
  let header: CacheHeader;
  try {
    header = JSON.parse(file.subarray(0, newline).toString("utf8")) as CacheHeader;
  } catch {
    return undefined;
  }
  const { canvases: n, boxes: b } = header;
  if (!Number.isInteger(n) || !Number.isInteger(b) || n < 1 || b < 0) return undefined;
  const sizes = [4 * (n + 1), 16 * b, 4 * b, b, n * CANVAS_PIXELS];
  if (file.length !== newline + 1 + sizes.reduce((a, s) => a + s, 0)) return undefined;
  // Copies into fresh, aligned buffers (a Buffer's offset may not suit an Int32Array).
  let at = newline + 1;
  const parts = sizes.map((s) => {
    const part = new Uint8Array(s);
    part.set(file.subarray(at, at + s));
    at += s;
    return part;
  });
  if (digestOf(parts) !== header.sha256) return undefined;
  const [start, boxes, sources, classes, pixels] = parts as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  return new DigitCanvases(pixels, new Int32Array(start.buffer), new Float32Array(boxes.buffer), classes, new Int32Array(sources.buffer));
}

/** The cached canvases at `dir/name`, composited by `build` and cached when absent or damaged. */
function cached(dir: string, name: string, build: () => DigitCanvases): DigitCanvases {
  const path = join(dir, name);
  const found = readCache(path);
  if (found) return found;
  const built = build();
  try {
    mkdirSync(dir, { recursive: true });
    writeCache(path, built);
  } catch (error) {
    // A read-only or full disk costs the next run a rebuild, not this one its data.
    rmSync(`${path}.${process.pid}.tmp`, { force: true });
    process.emitWarning(`detect-digits: could not cache canvases at ${path} (${(error as Error).message}); they will be composited again next time`);
  }
  return built;
}

/** Training and test canvases. */
export interface DetectDigits {
  train: DigitCanvases;
  test: DigitCanvases;
}

const loaded = new Map<string, DetectDigits>();

/**
 * The recipe's canvases from the mnist package's fixed split (data/mnist.ts): `trainCanvases`
 * canvases of training digits, and the test canvases of the 2,000 held-out digits, each once
 * (Note [digit canvases]). Cached on disk (Note [digit canvas cache]) and per process.
 *
 * @example
 * ```ts
 * process.env.WEFT_CACHE = process.cwd();
 * const { train, test } = loadDetectDigits({ trainCanvases: 4 });
 * assert.equal(train.length, 4);
 * assert.equal(test.boxCount, 2000);
 * ```
 */
export function loadDetectDigits(o: { trainCanvases?: number; cacheDir?: string } = {}): DetectDigits {
  const count = o.trainCanvases ?? DETECT_DIGITS_TRAIN_CANVASES;
  const dir = join(o.cacheDir ?? weftCacheDir(), "detect-digits", `v${DETECT_DIGITS_VERSION}-mnist-package-seed${DETECT_DIGITS_SEED}`);
  const key = `${dir}:${count}`;
  let sets = loaded.get(key);
  if (!sets) {
    const mnist = loadMnist();
    sets = {
      train: cached(dir, `train-${count}.bin`, () => composeTrainCanvases(mnist.train, count, DETECT_DIGITS_SEED)),
      test: cached(dir, "test.bin", () => composeHeldOutCanvases(mnist.test, DETECT_DIGITS_SEED + 1)),
    };
    loaded.set(key, sets);
  }
  return sets;
}

/** Digits read from a pair of IDX files (the format of the public MNIST distribution). */
export class IdxDigits implements DigitSource {
  readonly length: number;
  constructor(
    readonly images: Float32Array,
    readonly labels: Uint8Array,
  ) {
    this.length = labels.length;
  }
}

/** An IDX file's bytes, gunzipped when its name ends in .gz. */
function readIdx(path: string, magic: number, what: string): { dims: number[]; data: Uint8Array } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new Error(`detect-digits: cannot read the ${what} file ${path} (${(error as Error).message}): pass the folder holding MNIST's four IDX files`);
  }
  if (path.endsWith(".gz")) bytes = gunzipSync(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4 || view.getUint32(0) !== magic) {
    throw new Error(`detect-digits: ${path} does not start with the IDX magic 0x${magic.toString(16).padStart(8, "0")} of unsigned-byte ${what}: is it an MNIST ${what} file?`);
  }
  const rank = magic & 0xff;
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const offset = 4 + 4 * rank;
  const size = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== offset + size) throw new Error(`detect-digits: ${path} holds ${bytes.length - offset} values after its header, its dimensions [${dims.join(", ")}] say ${size}`);
  return { dims, data: bytes.subarray(offset) };
}

/**
 * Digits from the public MNIST files: `imagesPath` (IDX unsigned bytes, N x 28 x 28, e.g.
 * train-images-idx3-ubyte or its .gz) and `labelsPath` (N labels, e.g. train-labels-idx1-ubyte).
 *
 * @example A two-digit IDX pair written by hand
 * ```ts
 * import { writeFileSync } from "node:fs";
 * // IDX: a big-endian magic word (0x08 = unsigned bytes, then the rank), one word per dimension, the bytes.
 * const header = (...words: number[]) => {
 *   const b = Buffer.alloc(4 * words.length);
 *   words.forEach((w, i) => b.writeUInt32BE(w, 4 * i));
 *   return b;
 * };
 * writeFileSync("images", Buffer.concat([header(0x803, 2, 28, 28), Buffer.alloc(2 * 784, 255)]));
 * writeFileSync("labels", Buffer.concat([header(0x801, 2), Buffer.from([3, 7])]));
 * const digits = readMnistIdx("images", "labels");
 * assert.deepEqual([digits.length, [...digits.labels], digits.images[0]], [2, [3, 7], 1]);
 * ```
 */
export function readMnistIdx(imagesPath: string, labelsPath: string): IdxDigits {
  const images = readIdx(imagesPath, 0x803, "images");
  const labels = readIdx(labelsPath, 0x801, "labels");
  const [n, h, w] = images.dims as [number, number, number];
  if (h !== MNIST_SIDE || w !== MNIST_SIDE) throw new Error(`detect-digits: ${imagesPath} holds ${h}x${w} images; MNIST's are ${MNIST_SIDE}x${MNIST_SIDE}`);
  if (labels.dims[0] !== n) throw new Error(`detect-digits: ${imagesPath} holds ${n} images but ${labelsPath} ${labels.dims[0]} labels: pass a matching pair`);
  labels.data.forEach((l, i) => {
    if (l > 9) throw new Error(`detect-digits: label ${i} of ${labelsPath} is ${l}, not a digit 0-9`);
  });
  return new IdxDigits(Float32Array.from(images.data, (v) => v / 255), Uint8Array.from(labels.data));
}

/** The file in `dir` called `name` or `name`.gz. */
function idxFile(dir: string, name: string): string {
  for (const candidate of [join(dir, name), join(dir, `${name}.gz`)]) if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  throw new Error(`detect-digits: ${dir} has neither ${name} nor ${name}.gz: pass the folder holding MNIST's four IDX files`);
}

/**
 * Canvases from the full public MNIST set in `dir` (train-images-idx3-ubyte, train-labels-idx1-ubyte,
 * t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each possibly .gz): `trainCanvases` canvases of
 * its 60,000 training digits, test canvases of its 10,000 test digits, each once. Composited the
 * same way (Note [digit canvases]) and cached under a key naming the folder and the files' sizes.
 */
export function loadDetectDigitsFromIdx(dir: string, o: { trainCanvases?: number; cacheDir?: string } = {}): DetectDigits {
  const count = o.trainCanvases ?? DETECT_DIGITS_TRAIN_CANVASES;
  const files = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"].map((f) => idxFile(dir, f));
  const fingerprint = createHash("sha256").update(files.map((f) => `${f}:${statSync(f).size}`).join("\n")).digest("hex").slice(0, 16);
  const cacheDir = join(o.cacheDir ?? weftCacheDir(), "detect-digits", `v${DETECT_DIGITS_VERSION}-idx-${fingerprint}-seed${DETECT_DIGITS_SEED}`);
  const key = `${cacheDir}:${count}`;
  let sets = loaded.get(key);
  if (!sets) {
    sets = {
      train: cached(cacheDir, `train-${count}.bin`, () => composeTrainCanvases(readMnistIdx(files[0]!, files[1]!), count, DETECT_DIGITS_SEED)),
      test: cached(cacheDir, "test.bin", () => composeHeldOutCanvases(readMnistIdx(files[2]!, files[3]!), DETECT_DIGITS_SEED + 1)),
    };
    loaded.set(key, sets);
  }
  return sets;
}
