// detect-digits: object detection on composited canvases of real digits. Each 96x96 canvas holds 1
// to 4 digits of the mnist package (data/mnist.ts), placed at random scales and positions, each
// with its class and the box of its ink (data/detect-digits.ts, Note [digit canvases]): training
// canvases from the 8,000 training digits, test canvases from the 2,000 held-out digits, each used
// once. The model is a small single-stage detector (models/digit-detector.ts: a CNN to a stride-8
// grid, a class-and-box head, peak decoding and NMS), judged by mAP@0.5 as the Pascal VOC
// challenge computes it (metrics/detection.ts, Note [VOC average precision]). Bar: 0.85.
//
//   weft train detect-digits                    one process
//   weft train detect-digits --workers 2        data-parallel on 2 workers (ddp)
//   weft train detect-digits --mnist-idx DIR    canvases of the full public MNIST (60,000 / 10,000)
//
// docs/recipes/detect-digits.md has the measured figures.
import {
  CANVAS_PIXELS, CANVAS_SIDE, DETECT_DIGITS_MEAN, DETECT_DIGITS_STD, DETECT_DIGITS_TRAIN_CANVASES, loadDetectDigits, loadDetectDigitsFromIdx,
  type DetectDigits, type DigitBox, type DigitCanvas, type DigitCanvases,
} from "../data/detect-digits.js";
import type { BatchContext } from "../data/index.js";
import { meanAveragePrecision, type Detection, type GroundTruth } from "../metrics/detection.js";
import { decodeDetections, detectorLoss, detectorTargets, DETECTOR_CLASSES, digitDetector, type DetectorTargets } from "../models/digit-detector.js";
import { inkBlobBaseline } from "./detect-digits-baseline.js";
import { checkSplit, sequentialLayerStack, type Module, type Sequential } from "../nn/index.js";
import { Adam, warmupCosine } from "../optim/index.js";
import { noGrad, Tensor } from "../tensor/index.js";
import { defineRecipe, type RecipeSettings } from "../train/recipe.js";
import type { Rng } from "../util/rng.js";

/** A batch of canvases: normalized pixels (N, 1, 96, 96), each canvas's boxes, and the head's targets. */
export interface DetectBatch {
  x: Float32Array;
  xShape: number[];
  boxes: DigitBox[][];
  targets: DetectorTargets;
  /** The box loss's weight (--box-weight), carried with the batch for the loss. */
  boxWeight: number;
}

/** The canvases a run's options name: the package's split, or the full public set under --mnist-idx. */
function canvasesFor(s: RecipeSettings): DetectDigits {
  const trainCanvases = s.options.canvases as number;
  const idx = s.options["mnist-idx"] as string | undefined;
  return idx ? loadDetectDigitsFromIdx(idx, { trainCanvases }) : loadDetectDigits({ trainCanvases });
}

/**
 * Moves a canvas by up to `shift` pixels each way, as far as keeps every box inside the canvas
 * (so no digit is cut and every box stays true), writing the moved bytes as normalized values into
 * `target`. Returns the moved boxes. With shift 0 it only normalizes.
 *
 * @example A box at the right edge can only move left
 * ```ts
 * const pixels = new Uint8Array(96 * 96);
 * pixels[95] = 255;
 * const target = new Float32Array(96 * 96);
 * const [b] = shiftCanvas({ index: 0, pixels, boxes: [{ cls: 1, x0: 95, y0: 0, x1: 96, y1: 1 }] }, target, 3, new Rng(0));
 * assert.ok(b.x1 <= 96 && b.x0 >= 92 && b.y0 >= 0);
 * assert.ok(target[b.y0 * 96 + b.x0] > 5);
 * ```
 */
export function shiftCanvas(canvas: DigitCanvas, target: Float32Array, shift: number, rng?: Rng): DigitBox[] {
  if (shift > 0 && !rng) throw new RangeError(`shiftCanvas: a shift of ${shift} pixels needs a generator`);
  const range = (lo: number, hi: number): number => {
    const a = Math.max(-shift, -lo), b = Math.min(shift, CANVAS_SIDE - hi);
    return a >= b ? Math.max(a, Math.min(0, b)) : a + rng!.int(b - a + 1);
  };
  const dx = shift > 0 ? range(Math.min(...canvas.boxes.map((b) => b.x0)), Math.max(...canvas.boxes.map((b) => b.x1))) : 0;
  const dy = shift > 0 ? range(Math.min(...canvas.boxes.map((b) => b.y0)), Math.max(...canvas.boxes.map((b) => b.y1))) : 0;
  const background = -DETECT_DIGITS_MEAN / DETECT_DIGITS_STD;
  const scale = 1 / (255 * DETECT_DIGITS_STD);
  target.fill(background);
  for (let y = Math.max(0, dy); y < Math.min(CANVAS_SIDE, CANVAS_SIDE + dy); y++) {
    const from = (y - dy) * CANVAS_SIDE;
    for (let x = Math.max(0, dx); x < Math.min(CANVAS_SIDE, CANVAS_SIDE + dx); x++) {
      target[y * CANVAS_SIDE + x] = canvas.pixels[from + x - dx]! * scale + background;
    }
  }
  return canvas.boxes.map((b) => ({ cls: b.cls, x0: b.x0 + dx, y0: b.y0 + dy, x1: b.x1 + dx, y1: b.y1 + dy }));
}

/** A collate that shifts each canvas by up to `shift` pixels (from the sample's own generator) and builds its targets. */
export function collateCanvases(shift: number, boxWeight = 1): (samples: readonly DigitCanvas[], context: BatchContext) => DetectBatch {
  return (samples, context) => {
    const x = new Float32Array(samples.length * CANVAS_PIXELS);
    const boxes = samples.map((canvas, k) => shiftCanvas(canvas, x.subarray(k * CANVAS_PIXELS, (k + 1) * CANVAS_PIXELS), shift, context.sampleRng(k)));
    return { x, xShape: [samples.length, 1, CANVAS_SIDE, CANVAS_SIDE], boxes, targets: detectorTargets(boxes, CANVAS_SIDE), boxWeight };
  };
}

/** Cuts a batch into `parts` consecutive micro-batches (pixel views, targets rebuilt from the boxes). */
export function splitCanvases(batch: DetectBatch, parts: number): DetectBatch[] {
  const m = checkSplit(batch.boxes.length, parts);
  return Array.from({ length: parts }, (_, k) => {
    const boxes = batch.boxes.slice(k * m, (k + 1) * m);
    return { x: batch.x.subarray(k * m * CANVAS_PIXELS, (k + 1) * m * CANVAS_PIXELS), xShape: [m, 1, CANVAS_SIDE, CANVAS_SIDE], boxes, targets: detectorTargets(boxes, CANVAS_SIDE), boxWeight: batch.boxWeight };
  });
}

const input = (batch: DetectBatch): Tensor => new Tensor(batch.x, batch.xShape);

export const detectDigits = defineRecipe<DigitCanvas, DetectBatch>({
  name: "detect-digits",
  summary: "a single-stage CNN detector on 96x96 canvases of 1-4 real MNIST digits (8,000 train canvases / 815 test canvases of the 2,000 held-out digits), mAP@0.5 >= 0.85",
  // Measured in docs/recipes/detect-digits.md: one epoch already scores about 0.85, four about 0.94.
  defaults: { epochs: 4, batch: 32, lr: 2e-3, seed: 0 },
  options: {
    canvases: { type: "int", min: 1, max: 1_000_000, default: DETECT_DIGITS_TRAIN_CANVASES, help: "training canvases to composite (cached after the first run)" },
    shift: { type: "int", min: 0, max: CANVAS_SIDE, default: 8, help: "random shift of each training canvas, in pixels, as far as keeps its boxes inside" },
    width: { type: "int", min: 1, max: 256, default: 16, help: "channels of the detector's first layer (then 2x, 4x)" },
    "box-weight": { type: "number", positive: true, default: 1, help: "weight of the box regression's L1 loss beside the class losses" },
    "warmup-steps": { type: "int", min: 0, default: 100, help: "steps of linear learning-rate warm-up before the cosine decay" },
    "test-canvases": { type: "int", min: 1, help: "score on the first N test canvases only, for a quick look (default: all of them, as the metric is defined)" },
    "mnist-idx": { type: "string", placeholder: "DIR", help: "composite from the full public MNIST IDX files in DIR instead of the mnist package" },
  },
  metric: { name: "test_map50", higherIsBetter: true },
  data: (s) => ({ train: canvasesFor(s).train, collate: collateCanvases(s.options.shift as number, s.options["box-weight"] as number) }),
  model: (s) => digitDetector(s.options.width as number),
  loss: (model, batch) => detectorLoss(model.forward(input(batch)), batch.targets, batch.boxWeight),
  layers: (model) => sequentialLayerStack<DetectBatch>(model as Sequential, {
    input,
    loss: (output, batch) => detectorLoss(output, batch.targets, batch.boxWeight),
    split: splitCanvases,
    samplesIn: (batch) => batch.boxes.length,
  }),
  samplesIn: (batch) => batch.boxes.length,
  optimizer: (model, s) => new Adam(model.parameters(), { lr: s.lr }),
  schedule: (s, total) => warmupCosine({ peak: s.lr, warmup: s.options["warmup-steps"] as number, total }),
  evaluate: (model, s) => evaluateDetector(model, testCanvasesFor(s)),
});

const prefixes = new WeakMap<DigitCanvases, Map<number, DigitCanvases>>();

/** The test canvases a run scores on: all of them, or the first --test-canvases (the same object each time, so the baseline is counted once). */
function testCanvasesFor(s: RecipeSettings): DigitCanvases {
  const all = canvasesFor(s).test;
  const count = s.options["test-canvases"] as number | undefined;
  if (count === undefined || count >= all.length) return all;
  let mine = prefixes.get(all);
  if (!mine) prefixes.set(all, (mine = new Map()));
  let first = mine.get(count);
  if (!first) mine.set(count, (first = all.prefix(count)));
  return first;
}

/** The detector's detections on every canvas of `canvases` (image i is canvas i), in evaluation mode. */
export function detectAll(model: Module, canvases: DigitCanvases, batchSize = 64): Detection[] {
  const detections: Detection[] = [];
  model.eval();
  noGrad(() => {
    for (let start = 0; start < canvases.length; start += batchSize) {
      const n = Math.min(batchSize, canvases.length - start);
      const x = new Float32Array(n * CANVAS_PIXELS);
      for (let k = 0; k < n; k++) shiftCanvas(canvases.get(start + k), x.subarray(k * CANVAS_PIXELS, (k + 1) * CANVAS_PIXELS), 0);
      const out = model.forward(new Tensor(x, [n, 1, CANVAS_SIDE, CANVAS_SIDE]));
      detections.push(...decodeDetections(out.dense(), out.shape, { firstImage: start }));
    }
  });
  model.train();
  return detections;
}

/** Every box of `canvases` as a ground truth of image i = its canvas. */
export function groundTruths(canvases: DigitCanvases): GroundTruth[] {
  const truths: GroundTruth[] = [];
  for (let i = 0; i < canvases.length; i++) for (const { cls, ...box } of canvases.get(i).boxes) truths.push({ image: i, cls, box });
  return truths;
}

const baselines = new WeakMap<DigitCanvases, number>();

/** The ink-blob baseline's mAP@0.5 on `canvases` (detect-digits-baseline.ts), computed once per process. */
export function baselineMap50(canvases: DigitCanvases): number {
  let map = baselines.get(canvases);
  if (map === undefined) baselines.set(canvases, (map = meanAveragePrecision(groundTruths(canvases), inkBlobBaseline(canvases), { classes: DETECTOR_CLASSES }).map));
  return map;
}

/**
 * mAP@0.5 on `canvases`, and beside it AP@0.5 per digit, the share of digits found at all (at any
 * score), and the ink-blob baseline's mAP@0.5 on the same canvases.
 */
export function evaluateDetector(model: Module, canvases: DigitCanvases): Record<string, number> {
  const r = meanAveragePrecision(groundTruths(canvases), detectAll(model, canvases), { classes: DETECTOR_CLASSES });
  const found = r.truePositives.reduce((a, b) => a + b, 0), truths = r.truths.reduce((a, b) => a + b, 0);
  const perDigit = Object.fromEntries(r.perClass.map((ap, c) => [`test_ap50_${c}`, ap ?? Number.NaN]));
  return { test_map50: r.map, test_recall50: truths === 0 ? 0 : found / truths, ...perDigit, baseline_map50: baselineMap50(canvases) };
}
