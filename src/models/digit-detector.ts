// A small single-stage detector for digits on 96x96 canvases, in the manner of YOLO and CenterNet:
// a plain CNN down to a stride-8 grid (12x12 cells), and at every cell 15 numbers: 11 class
// logits (the 10 digits and background) and 4 box numbers. The cell that holds a digit's box
// centre is responsible for it (Note [detector head]); decoding keeps each class's local peaks,
// then non-maximum suppression (metrics/detection.ts) removes what still overlaps.
//
//   (N, 1, 96, 96) -> conv 3x3 + ReLU + pool   (N, c, 48, 48)
//                  -> conv 3x3 + ReLU + pool   (N, 2c, 24, 24)
//                  -> conv 3x3 + ReLU + pool   (N, 4c, 12, 12)
//                  -> 2 x (conv 3x3 + ReLU)    (N, 4c, 12, 12)   receptive field 54 pixels
//                  -> conv 1x1                 (N, 15, 12, 12)
// With c = 16 (the default) that is 98,127 parameters, about 33M multiply-adds per canvas.
import type { DigitBox } from "../data/detect-digits.js";
import { nonMaxSuppression, type Detection } from "../metrics/detection.js";
import { Conv2d, MaxPool2d, ReLU, Sequential } from "../nn/index.js";
import { abs, add, affine, crossEntropy, mul, permute, reshape, slice, sub, sum, Tensor } from "../tensor/index.js";

/** Pixels per output cell. */
export const DETECTOR_STRIDE = 8;
/** Digit classes; the class logits have one more, background, at index DETECTOR_CLASSES. */
export const DETECTOR_CLASSES = 10;
export const BACKGROUND = DETECTOR_CLASSES;
/** Output channels per cell: class logits, then the box's tx, ty, tw, th. */
export const DETECTOR_CHANNELS = DETECTOR_CLASSES + 1 + 4;
/** Box sizes are regressed as log(size / BOX_SCALE): a typical digit is about this many pixels. */
export const BOX_SCALE = 16;

/**
 * The detector network for canvases of `side` pixels (a multiple of DETECTOR_STRIDE) with `width`
 * channels in its first layer (see the header).
 *
 * @example
 * ```ts
 * const net = digitDetector();
 * assert.equal(net.parameterCount(), 98127);
 * ```
 */
export function digitDetector(width = 16): Sequential {
  const [c1, c2, c3] = [width, 2 * width, 4 * width];
  return new Sequential(
    new Conv2d(1, c1, 3, { padding: 1 }), new ReLU(), new MaxPool2d({ kernel: 2 }), // (N, c, 48, 48)
    new Conv2d(c1, c2, 3, { padding: 1 }), new ReLU(), new MaxPool2d({ kernel: 2 }), // (N, 2c, 24, 24)
    new Conv2d(c2, c3, 3, { padding: 1 }), new ReLU(), new MaxPool2d({ kernel: 2 }), // (N, 4c, 12, 12)
    new Conv2d(c3, c3, 3, { padding: 1 }), new ReLU(),
    new Conv2d(c3, c3, 3, { padding: 1 }), new ReLU(),
    new Conv2d(c3, DETECTOR_CHANNELS, 1), // (N, 15, 12, 12)
  );
}

// Note [detector head]
// A box with centre (cx, cy) and size (w, h) belongs to the cell (i, j) = (floor(cy / 8),
// floor(cx / 8)) that holds its centre. That cell's targets are its class, and
//   tx = cx / 8 - j,  ty = cy / 8 - i    (where in the cell the centre is, 0 to 1)
//   tw = log(w / 16), th = log(h / 16)   (sizes on a log scale: a 4-pixel 1 and a 32-pixel 0 err alike)
// and every other cell's class is background. The loss is the sum of
//   - the mean 11-way cross-entropy over all cells (what is where, background included),
//   - the mean 11-way cross-entropy over the responsible cells only: with about 2.5 digits among
//     144 cells, the first term alone is mostly about background, and this one weighs every digit
//     as much as all the background together,
//   - boxWeight times the mean L1 error of (tx, ty, tw, th) over the responsible cells.
// Two centres in one cell (rare: boxes overlap by a quarter at most) leave the cell to the first box;
// the other is not a target and, at evaluation, counts as missed.
// Decoding turns each cell's softmax into one candidate per class c with p_c >= scoreThreshold that
// is a peak of class c's map (no greater p_c among the 8 neighbouring cells, CenterNet's 3x3
// max-pool trick: a digit's neighbours see it too, less surely, and their boxes were never
// trained), then the maxPerImage best of those, then greedy NMS per class at IoU nmsIou.

/** Targets for a batch, laid out like the network's output. */
export interface DetectorTargets {
  /** Cells per side. */
  grid: number;
  /** (N, grid, grid): each cell's class, BACKGROUND where no box is centred. */
  classes: Int32Array;
  /** The same with every cell but the responsible ones at -100 (ignored by crossEntropy). */
  positives: Int32Array;
  /** (N, 4, grid, grid): tx, ty, tw, th at the responsible cells, 0 elsewhere. */
  box: Float32Array;
  /** (N, 4, grid, grid): 1 at the responsible cells, 0 elsewhere. */
  mask: Float32Array;
  /** Responsible cells in the batch. */
  count: number;
}

/**
 * The targets of Note [detector head] for `boxes[k]`, the boxes of canvas k, on canvases of
 * `side` pixels.
 *
 * @example A 16x8 box centred at (20, 12) belongs to cell (1, 2), at its middle
 * ```ts
 * const t = detectorTargets([[{ cls: 7, x0: 12, y0: 8, x1: 28, y1: 16 }]], 96);
 * const cell = 1 * 12 + 2;
 * assert.deepEqual([t.classes[cell], t.positives[cell], t.count], [7, 7, 1]);
 * assert.deepEqual([0, 1, 2, 3].map((k) => t.box[k * 144 + cell]), [0.5, 0.5, 0, Math.fround(Math.log(0.5))]);
 * ```
 */
export function detectorTargets(boxes: readonly (readonly DigitBox[])[], side: number): DetectorTargets {
  if (side % DETECTOR_STRIDE !== 0) throw new RangeError(`detectorTargets: canvases of ${side} pixels are not a multiple of the stride ${DETECTOR_STRIDE}`);
  const grid = side / DETECTOR_STRIDE;
  const cells = grid * grid;
  const n = boxes.length;
  const classes = new Int32Array(n * cells).fill(BACKGROUND);
  const positives = new Int32Array(n * cells).fill(-100);
  const box = new Float32Array(n * 4 * cells);
  const mask = new Float32Array(n * 4 * cells);
  let count = 0;
  boxes.forEach((list, k) => {
    for (const b of list) {
      const cx = (b.x0 + b.x1) / 2 / DETECTOR_STRIDE, cy = (b.y0 + b.y1) / 2 / DETECTOR_STRIDE;
      const j = Math.min(grid - 1, Math.floor(cx)), i = Math.min(grid - 1, Math.floor(cy));
      const cell = i * grid + j;
      if (positives[k * cells + cell] !== -100) continue; // the cell is taken (Note [detector head])
      classes[k * cells + cell] = b.cls;
      positives[k * cells + cell] = b.cls;
      const values = [cx - j, cy - i, Math.log((b.x1 - b.x0) / BOX_SCALE), Math.log((b.y1 - b.y0) / BOX_SCALE)];
      values.forEach((v, c) => {
        box[(k * 4 + c) * cells + cell] = v;
        mask[(k * 4 + c) * cells + cell] = 1;
      });
      count++;
    }
  });
  return { grid, classes, positives, box, mask, count };
}

/** The loss of Note [detector head] for the network's output (N, 15, grid, grid). */
export function detectorLoss(output: Tensor, t: DetectorTargets, boxWeight = 1): Tensor {
  const [n, , g] = output.shape as [number, number, number, number];
  // (N, 11, g, g) -> (N, g, g, 11) -> (N g g, 11): one row of logits per cell.
  const logits = reshape(permute(slice(output, 1, 0, DETECTOR_CLASSES + 1), [0, 2, 3, 1]), [n * g * g, DETECTOR_CLASSES + 1]);
  const all = crossEntropy(logits, t.classes);
  if (t.count === 0) return all;
  const positive = crossEntropy(logits, t.positives);
  const boxes = slice(output, 1, DETECTOR_CLASSES + 1, DETECTOR_CHANNELS);
  const l1 = sum(mul(abs(sub(boxes, new Tensor(t.box, boxes.shape))), new Tensor(t.mask, boxes.shape)));
  return add(add(all, positive), affine(l1, boxWeight / (4 * t.count)));
}

export interface DecodeOptions {
  /** Candidates below this class probability are dropped (default 0.05). */
  scoreThreshold?: number;
  /** IoU above which NMS drops the weaker of two detections of a class (default 0.5). */
  nmsIou?: number;
  /** At most this many candidates per image go on to NMS, the best (default 100, as CenterNet and COCO). */
  maxPerImage?: number;
  /** Image number of the first canvas of the batch (default 0). */
  firstImage?: number;
}

/**
 * Detections from the network's raw output (N, 15, grid, grid), decoded as in Note [detector
 * head]; boxes in pixels, scores the class probabilities.
 *
 * @example One confident 3 at cell (0, 0), its box 16 pixels square around (4, 4)
 * ```ts
 * const out = new Float32Array(15 * 4);            // a 2x2 grid
 * for (let cell = 0; cell < 4; cell++) out[10 * 4 + cell] = 10; // background everywhere...
 * out[3 * 4 + 0] = 20;                             // ...but a 3 at cell 0
 * out[11 * 4] = 0.5; out[12 * 4] = 0.5;            // centred in its cell: tx = ty = 0.5, tw = th = 0
 * const [d, ...rest] = decodeDetections(out, [1, 15, 2, 2]);
 * assert.deepEqual([d.cls, d.image, d.box, rest.length], [3, 0, { x0: -4, y0: -4, x1: 12, y1: 12 }, 0]);
 * assert.ok(d.score > 0.99);
 * ```
 */
export function decodeDetections(output: Float32Array, shape: readonly number[], o: DecodeOptions = {}): Detection[] {
  const [n, channels, g, gw] = shape as [number, number, number, number];
  if (channels !== DETECTOR_CHANNELS || g !== gw || output.length !== n * channels * g * g) {
    throw new RangeError(`decodeDetections: expected (N, ${DETECTOR_CHANNELS}, G, G) output, got [${shape.join(", ")}] with ${output.length} values`);
  }
  const threshold = o.scoreThreshold ?? 0.05, nmsIou = o.nmsIou ?? 0.5, maxPerImage = o.maxPerImage ?? 100, first = o.firstImage ?? 0;
  const cells = g * g;
  const out: Detection[] = [];
  const probs = new Float32Array((DETECTOR_CLASSES + 1) * cells);
  for (let k = 0; k < n; k++) {
    const base = k * channels * cells;
    // Softmax over the 11 class logits of each cell, the maximum subtracted first.
    for (let cell = 0; cell < cells; cell++) {
      let max = -Infinity;
      for (let c = 0; c <= DETECTOR_CLASSES; c++) max = Math.max(max, output[base + c * cells + cell]!);
      let total = 0;
      for (let c = 0; c <= DETECTOR_CLASSES; c++) total += probs[c * cells + cell] = Math.exp(output[base + c * cells + cell]! - max);
      for (let c = 0; c <= DETECTOR_CLASSES; c++) probs[c * cells + cell]! /= total;
    }
    const candidates: Detection[] = [];
    for (let c = 0; c < DETECTOR_CLASSES; c++) {
      for (let i = 0; i < g; i++) {
        for (let j = 0; j < g; j++) {
          const p = probs[c * cells + i * g + j]!;
          if (p < threshold) continue;
          let peak = true;
          for (let di = -1; di <= 1 && peak; di++) {
            for (let dj = -1; dj <= 1; dj++) {
              const y = i + di, x = j + dj;
              if ((di || dj) && y >= 0 && y < g && x >= 0 && x < g && probs[c * cells + y * g + x]! > p) { peak = false; break; }
            }
          }
          if (!peak) continue;
          const at = (ch: number): number => output[base + (DETECTOR_CLASSES + 1 + ch) * cells + i * g + j]!;
          const cx = (j + at(0)) * DETECTOR_STRIDE, cy = (i + at(1)) * DETECTOR_STRIDE;
          const w = BOX_SCALE * Math.exp(at(2)), h = BOX_SCALE * Math.exp(at(3));
          candidates.push({ image: first + k, cls: c, score: p, box: { x0: cx - w / 2, y0: cy - h / 2, x1: cx + w / 2, y1: cy + h / 2 } });
        }
      }
    }
    // The best maxPerImage peaks only, as CenterNet takes its top 100: an untrained network peaks
    // everywhere, and NMS is quadratic in what it is given.
    candidates.sort((a, b) => b.score - a.score);
    const best = candidates.slice(0, maxPerImage);
    for (const index of nonMaxSuppression(best, nmsIou)) out.push(best[index]!);
  }
  return out;
}
