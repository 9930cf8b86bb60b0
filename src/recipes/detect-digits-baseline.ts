// The detect-digits baseline: what a page of classic image processing scores, with nothing
// learned but ten averages. Boxes come from connected ink, classes from the nearest class mean
// (Note [ink-blob baseline]). The detector has to beat it to have learned anything worth a CNN.
//
// Note [ink-blob baseline]
//  1. Ink is a canvas byte >= round(255 INK_THRESHOLD), the rule the true boxes were drawn by
//     (data/detect-digits.ts). Each 8-connected run of ink is a blob; blobs whose boxes overlap
//     are merged until none do (a digit's broken stroke is two blobs that belong together); blobs
//     of fewer than MIN_BLOB_PIXELS are specks and dropped. Digits that touch or whose boxes
//     overlap (Note [digit canvases], step 3) become one blob: the baseline cannot part them.
//  2. Each box's content is resampled (bilinear, nothing outside the box) so its longer side is
//     20 pixels, centred in 28x28: the way MNIST itself normalizes its digits.
//  3. The ten templates are the class means of the training digits, each normalized by step 2
//     from its own ink box in its 28x28 cell.
//  4. Each blob becomes a detection of each of the TOP_CLASSES nearest templates, scored by a
//     softmax over the negative squared distances divided by TEMPERATURE: a blob closer to one
//     template than to the others is surer.
import { CANVAS_SIDE, INK_THRESHOLD, type DigitCanvases } from "../data/detect-digits.js";
import { loadMnist, MNIST_PIXELS, MNIST_SIDE } from "../data/mnist.js";
import type { Box, Detection } from "../metrics/detection.js";

/** Blobs of fewer pixels are specks, not digits. */
export const MIN_BLOB_PIXELS = 4;
/** Classes each blob is offered as. */
export const TOP_CLASSES = 3;
/** Softmax temperature over squared template distances (sums over 784 pixels of values in [0, 1]). */
export const TEMPERATURE = 4;
const NORMALIZED_SIDE = 20;

/**
 * The boxes of the ink blobs of a `side` x `side` image of bytes (Note [ink-blob baseline], step 1).
 *
 * @example Two strokes of one digit whose boxes overlap merge; a far blob stays apart; a speck goes
 * ```ts
 * const image = new Uint8Array(10 * 10);
 * const ink = [[0, 0], [1, 0], [2, 0], [0, 1], [0, 2], [2, 2], [2, 3], [6, 6], [7, 6], [6, 7], [7, 7], [9, 0]];
 * for (const [x, y] of ink) image[y * 10 + x] = 255;
 * // An L (box 0..3 x 0..3) and a stroke inside its box (2..3 x 2..4) are one digit; the 2x2 square another.
 * assert.deepEqual(inkBlobs(image, 10), [{ x0: 0, y0: 0, x1: 3, y1: 4 }, { x0: 6, y0: 6, x1: 8, y1: 8 }]);
 * ```
 */
export function inkBlobs(image: Uint8Array, side: number): Box[] {
  const ink = Math.round(INK_THRESHOLD * 255);
  const label = new Int32Array(side * side).fill(-1);
  const blobs: { box: Box; pixels: number }[] = [];
  const stack: number[] = [];
  for (let start = 0; start < side * side; start++) {
    if (image[start]! < ink || label[start] !== -1) continue;
    const box = { x0: side, y0: side, x1: 0, y1: 0 };
    let pixels = 0;
    label[start] = blobs.length;
    stack.push(start);
    while (stack.length > 0) {
      const p = stack.pop()!;
      const x = p % side, y = (p - x) / side;
      pixels++;
      box.x0 = Math.min(box.x0, x);
      box.y0 = Math.min(box.y0, y);
      box.x1 = Math.max(box.x1, x + 1);
      box.y1 = Math.max(box.y1, y + 1);
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx, ny = y + dy, q = ny * side + nx;
          if (nx >= 0 && nx < side && ny >= 0 && ny < side && label[q] === -1 && image[q]! >= ink) {
            label[q] = blobs.length;
            stack.push(q);
          }
        }
      }
    }
    blobs.push({ box, pixels });
  }
  // Merge overlapping boxes until none overlap (each merge removes a blob, so this ends).
  for (let merged = true; merged; ) {
    merged = false;
    for (let a = 0; a < blobs.length && !merged; a++) {
      for (let b = a + 1; b < blobs.length; b++) {
        const p = blobs[a]!.box, q = blobs[b]!.box;
        if (p.x0 < q.x1 && q.x0 < p.x1 && p.y0 < q.y1 && q.y0 < p.y1) {
          blobs[a] = { box: { x0: Math.min(p.x0, q.x0), y0: Math.min(p.y0, q.y0), x1: Math.max(p.x1, q.x1), y1: Math.max(p.y1, q.y1) }, pixels: blobs[a]!.pixels + blobs[b]!.pixels };
          blobs.splice(b, 1);
          merged = true;
          break;
        }
      }
    }
  }
  return blobs.filter((b) => b.pixels >= MIN_BLOB_PIXELS).map((b) => b.box);
}

/** The content of `box` in a `side`-wide image of values (read by `at`), resampled to 28x28 as step 2 says. */
function normalizeBox(at: (x: number, y: number) => number, box: Box): Float32Array {
  const w = box.x1 - box.x0, h = box.y1 - box.y0;
  const scale = NORMALIZED_SIDE / Math.max(w, h);
  const ox = MNIST_SIDE / 2 - (w * scale) / 2, oy = MNIST_SIDE / 2 - (h * scale) / 2;
  const inside = (x: number, y: number): number => (x >= box.x0 && x < box.x1 && y >= box.y0 && y < box.y1 ? at(x, y) : 0);
  const out = new Float32Array(MNIST_PIXELS);
  for (let v = 0; v < MNIST_SIDE; v++) {
    const sy = box.y0 + (v + 0.5 - oy) / scale - 0.5;
    const fy = Math.floor(sy), wy = sy - fy;
    for (let u = 0; u < MNIST_SIDE; u++) {
      const sx = box.x0 + (u + 0.5 - ox) / scale - 0.5;
      const fx = Math.floor(sx), wx = sx - fx;
      out[v * MNIST_SIDE + u] = (1 - wy) * ((1 - wx) * inside(fx, fy) + wx * inside(fx + 1, fy)) + wy * ((1 - wx) * inside(fx, fy + 1) + wx * inside(fx + 1, fy + 1));
    }
  }
  return out;
}

let templates: Float32Array[] | undefined;

/** The ten class means of the normalized training digits (step 3), computed once per process. */
function classTemplates(): Float32Array[] {
  if (templates) return templates;
  const { train } = loadMnist();
  const sums = Array.from({ length: 10 }, () => new Float32Array(MNIST_PIXELS));
  const counts = new Array<number>(10).fill(0);
  const bytes = new Uint8Array(MNIST_PIXELS);
  for (let i = 0; i < train.length; i++) {
    const digit = train.images.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS);
    for (let p = 0; p < MNIST_PIXELS; p++) bytes[p] = Math.round(digit[p]! * 255);
    const [box] = inkBlobs(bytes, MNIST_SIDE).sort((a, b) => (b.x1 - b.x0) * (b.y1 - b.y0) - (a.x1 - a.x0) * (a.y1 - a.y0));
    if (!box) continue;
    const normalized = normalizeBox((x, y) => digit[y * MNIST_SIDE + x]!, box);
    const c = train.labels[i]!;
    for (let p = 0; p < MNIST_PIXELS; p++) sums[c]![p]! += normalized[p]!;
    counts[c]!++;
  }
  templates = sums.map((s, c) => s.map((v) => v / counts[c]!));
  return templates;
}

/**
 * The baseline's detections on every canvas (image i is canvas i): Note [ink-blob baseline].
 *
 * @example An empty canvas has no blobs and so no detections
 * ```ts
 * const canvases = { length: 1, get: () => ({ index: 0, pixels: new Uint8Array(96 * 96), boxes: [] }) };
 * assert.deepEqual(inkBlobBaseline(canvases), []);
 * ```
 */
export function inkBlobBaseline(canvases: Pick<DigitCanvases, "length" | "get">): Detection[] {
  const means = classTemplates();
  const detections: Detection[] = [];
  for (let i = 0; i < canvases.length; i++) {
    const { pixels } = canvases.get(i);
    for (const box of inkBlobs(pixels, CANVAS_SIDE)) {
      const x = normalizeBox((px, py) => pixels[py * CANVAS_SIDE + px]! / 255, box);
      const distances = means.map((m) => m.reduce((s, v, p) => s + (v - x[p]!) ** 2, 0));
      const nearest = Math.min(...distances);
      const weights = distances.map((d) => Math.exp(-(d - nearest) / TEMPERATURE));
      const total = weights.reduce((a, b) => a + b, 0);
      const ranked = weights.map((w, c) => ({ c, p: w / total })).sort((a, b) => b.p - a.p).slice(0, TOP_CLASSES);
      for (const { c, p } of ranked) detections.push({ image: i, cls: c, score: p, box });
    }
  }
  return detections;
}
