// lesions: medical-imaging-style segmentation. A small U-Net (models/unet.ts, width 16: 117,985
// parameters) learns to outline
// elliptical lesions, brighter or darker than their surroundings, some of low contrast, in
// textured synthetic "slices" (data/lesion-phantoms.ts, Note [lesion phantoms]): 4,096 training
// phantoms and 512 test phantoms of 64 x 64 pixels, each with its exact mask. The phantoms are
// synthetic, plainly: no set of real scans of training scale can be had offline. The same recipe
// trains on real scans given as NIfTI volumes and masks (data/nifti-slices.ts):
//
//   weft train lesions                                   one process, the phantoms
//   weft train lesions --workers 2                       data-parallel on 2 workers (ddp)
//   weft train lesions --image a.nii.gz,b.nii.gz --mask a-lesion.nii.gz,b-lesion.nii.gz
//                                                        slices of real volumes and their masks
//
// The loss is binary cross-entropy plus soft Dice (Note [BCE plus soft Dice]). The metric is
// `dice`, the mean over test images of each image's Dice coefficient at probability 0.5 (an image
// without lesions on which the model finds none scores 1: Note [empty masks] in
// metrics/segmentation.ts); the bar is 0.85. Beside it: `iou` (mean per-image IoU), `pooled_dice`
// (every test pixel counted together), and two baselines on the same test images:
// `empty_dice`, what predicting "no lesion" everywhere scores, and `threshold_dice`, a classical
// detector (Note [threshold baseline]) whose threshold is tuned on training images.
import { type BatchContext, type Collate } from "../data/index.js";
import { gaussianBlur, loadLesionPhantoms, type LesionImages, type LesionSample } from "../data/lesion-phantoms.js";
import { loadNiftiSegmentation, niftiPairs } from "../data/nifti-slices.js";
import { segmentationScores } from "../metrics/segmentation.js";
import { UNet } from "../models/unet.js";
import type { Module } from "../nn/index.js";
import { Adam, warmupCosine } from "../optim/index.js";
import { add, affine, bceWithLogits, div, mean, mul, noGrad, sigmoid, sum, Tensor } from "../tensor/index.js";
import { defineRecipe, type RecipeSettings } from "../train/recipe.js";

/** A batch of one-channel images and their masks, both (n, 1, height, width) row-major. */
export interface SegmentationBatch {
  x: Float32Array;
  /** 1 on lesion pixels, 0 elsewhere, as float32 for the loss. */
  y: Float32Array;
  n: number;
  height: number;
  width: number;
  /** Weight of the soft Dice term in the loss (--dice-weight): the loop hands the loss only the model and the batch. */
  diceWeight: number;
}

// Note [dihedral augmentation]
// A lesion stays a lesion when the image is flipped or turned by a right angle, and the phantoms'
// bodies have no preferred orientation, so each training sample is moved by one of the 8
// symmetries of the square (4 of the rectangle for non-square slices), drawn from the sample's own
// generator: source pixel (r, c) of output pixel (r, c) is first transposed (bit 2, square images
// only), then mirrored left-right (bit 0) and top-bottom (bit 1). Image and mask move together.

/** Writes `source` (h x w) moved by symmetry `t` (Note [dihedral augmentation]) into `target`. */
export function dihedral<T extends Float32Array | Uint8Array>(source: T, target: Float32Array, h: number, w: number, t: number): void {
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      let sr = r, sc = c;
      if (t & 4) [sr, sc] = [c, r];
      if (t & 1) sc = w - 1 - sc;
      if (t & 2) sr = h - 1 - sr;
      target[r * w + c] = source[sr * w + sc]!;
    }
  }
}

/**
 * Stacks samples of one size into a SegmentationBatch, each moved by a random symmetry when
 * `augment` is on (Note [dihedral augmentation]).
 *
 * @example Without augmentation the batch is the samples, masks as 0/1 floats
 * ```ts
 * const s = { image: Float32Array.of(1, 2, 3, 4), mask: Uint8Array.of(0, 1, 0, 0), height: 2, width: 2 };
 * const b = collateLesions(false)([s, s], { sampleRng: () => { throw new Error("unused"); } } as never);
 * assert.deepEqual([b.n, b.height, b.width, [...b.x], [...b.y], b.diceWeight], [2, 2, 2, [1, 2, 3, 4, 1, 2, 3, 4], [0, 1, 0, 0, 0, 1, 0, 0], 1]);
 * ```
 */
export function collateLesions(augment: boolean, diceWeight = 1): Collate<LesionSample, SegmentationBatch> {
  return (samples: readonly LesionSample[], context: BatchContext): SegmentationBatch => {
    const { height, width } = samples[0]!;
    const p = height * width;
    const x = new Float32Array(samples.length * p);
    const y = new Float32Array(samples.length * p);
    samples.forEach((s, i) => {
      if (s.height !== height || s.width !== width) {
        throw new RangeError(`collateLesions: sample ${i} is ${s.height} x ${s.width}, sample 0 ${height} x ${width}: a batch holds one image size`);
      }
      const t = augment ? context.sampleRng(i).int(height === width ? 8 : 4) : 0;
      dihedral(s.image, x.subarray(i * p, (i + 1) * p), height, width, t);
      dihedral(s.mask, y.subarray(i * p, (i + 1) * p), height, width, t);
    });
    return { x, y, n: samples.length, height, width, diceWeight };
  };
}

// Note [BCE plus soft Dice]
// Binary cross-entropy alone is dominated by the background (about 97% of a phantom's pixels), so
// a network first learns to say "no lesion" everywhere. Soft Dice, 1 - (2 sum(p g) + s) /
// (sum(p) + sum(g) + s) per image with p = sigmoid(logit) and g the mask, weighs the lesion
// pixels against their own count whatever their share of the image; BCE keeps a gradient on
// every pixel (soft Dice's vanishes where p saturates). Both together is what nnU-Net trains with.
// The smoothing s = 1 makes an image without lesions score 1 - 1 / (sum(p) + 1): its loss goes to
// 0 as the predicted area does, so empty images teach the network to predict nothing.

/** Soft Dice smoothing (Note [BCE plus soft Dice]). */
export const SOFT_DICE_SMOOTH = 1;

/**
 * Mean over images of 1 - soft Dice of sigmoid(logits) against `target`, both (N, 1, H, W)
 * (Note [BCE plus soft Dice]).
 *
 * @example Confident and right is near 0; an empty mask and an empty prediction cost nothing
 * ```ts
 * const target = new Tensor(Float32Array.of(1, 0, 0, 0), [1, 1, 2, 2]);
 * assert.ok(softDiceLoss(new Tensor(Float32Array.of(20, -20, -20, -20), [1, 1, 2, 2]), target).item() < 1e-6);
 * const none = new Tensor(new Float32Array(4), [1, 1, 2, 2]);
 * assert.ok(softDiceLoss(new Tensor(new Float32Array(4).fill(-30), [1, 1, 2, 2]), none).item() < 1e-6);
 * ```
 */
export function softDiceLoss(logits: Tensor, target: Tensor): Tensor {
  const p = sigmoid(logits);
  const axes = [1, 2, 3];
  const overlap = sum(mul(p, target), axes); // (N)
  const sizes = add(sum(p, axes), sum(target, axes)); // (N)
  const diceScore = div(affine(overlap, 2, SOFT_DICE_SMOOTH), affine(sizes, 1, SOFT_DICE_SMOOTH));
  return affine(mean(diceScore), -1, 1);
}

/** The recipe's loss: BCE plus batch.diceWeight times soft Dice (Note [BCE plus soft Dice]). */
export function segmentationLoss(model: Module, batch: SegmentationBatch): Tensor {
  const diceWeight = batch.diceWeight;
  const shape = [batch.n, 1, batch.height, batch.width];
  const logits = model.forward(new Tensor(batch.x, shape));
  const target = new Tensor(batch.y, shape);
  const bce = bceWithLogits(logits, target);
  return diceWeight === 0 ? bce : add(bce, affine(softDiceLoss(logits, target), diceWeight));
}

/** The model's masks of every image of `set` (probability above 0.5, that is logit above 0), in evaluation mode. */
export function predictMasks(model: Module, set: LesionImages, batchSize = 64): Uint8Array {
  const p = set.height * set.width;
  const out = new Uint8Array(set.length * p);
  model.eval();
  noGrad(() => {
    for (let start = 0; start < set.length; start += batchSize) {
      const n = Math.min(batchSize, set.length - start);
      const x = set.images.subarray(start * p, (start + n) * p);
      const logits = model.forward(new Tensor(x, [n, 1, set.height, set.width])).dense();
      for (let i = 0; i < n * p; i++) out[start * p + i] = logits[i]! > 0 ? 1 : 0;
    }
  });
  model.train();
  return out;
}

// Note [threshold baseline]
// A classical lesion detector, to show what the network adds: a lesion is tissue whose grey level
// departs from the body's usual one. The image is lightly smoothed, G(x) with a Gaussian of sigma
// 1 px (against the noise), and a pixel is marked when |G(x) - m| > t, m the median of G(x) over
// the body's interior, which is where it looks: the body is the pixels brighter than halfway
// from the image's minimum to its median, its interior the pixels whose share of body within a
// Gaussian of sigma 2 px is above 0.99 (about 5 px in from the edge, so the body's edge and rim
// do not count). Then every 4-connected blob of fewer than 6 pixels is dropped as noise. t is
// chosen on the first 256 training images from a grid of 0.1 to 3 (standardised units, steps of
// 0.1) for the best mean per-image Dice. It finds high-contrast lesions, misses faint ones, and
// takes bright or dark texture and organs for lesions: the part a learned model must do better.

/** Blobs smaller than this many pixels are dropped by the baseline. */
export const BASELINE_MIN_BLOB = 6;
const GRID_STEP = 0.1;
const GRID_STEPS = 30;

/** |G(x) - m| inside the body's interior, 0 elsewhere, for the first `count` images of `set` (Note [threshold baseline]). */
export function baselineDeviations(set: LesionImages, count = set.length): Float32Array {
  const p = set.height * set.width;
  const out = new Float32Array(count * p);
  for (let k = 0; k < count; k++) {
    const image = set.images.subarray(k * p, (k + 1) * p);
    const sorted = image.slice().sort();
    const level = (sorted[0]! + sorted[p >> 1]!) / 2;
    const body = gaussianBlur(Float32Array.from(image, (v) => (v > level ? 1 : 0)), set.height, set.width, 2);
    const smooth = gaussianBlur(image.slice(), set.height, set.width, 1);
    const interior = smooth.filter((_, i) => body[i]! > 0.99).sort();
    if (interior.length === 0) continue; // no body: nothing to look at
    const median = interior[interior.length >> 1]!;
    for (let i = 0; i < p; i++) out[k * p + i] = body[i]! > 0.99 ? Math.abs(smooth[i]! - median) : 0;
  }
  return out;
}

/** Clears, in place, every 4-connected blob of 1s smaller than `min` pixels in an h x w mask. */
export function dropSmallBlobs(mask: Uint8Array, h: number, w: number, min: number): Uint8Array {
  const seen = new Uint8Array(h * w);
  const stack: number[] = [];
  const blob: number[] = [];
  for (let start = 0; start < h * w; start++) {
    if (mask[start] !== 1 || seen[start]) continue;
    blob.length = 0;
    stack.push(start);
    seen[start] = 1;
    while (stack.length > 0) {
      const i = stack.pop()!;
      blob.push(i);
      const r = Math.floor(i / w), c = i - r * w;
      for (let n = 0; n < 4; n++) {
        const j = n === 0 ? (r > 0 ? i - w : -1) : n === 1 ? (r < h - 1 ? i + w : -1) : n === 2 ? (c > 0 ? i - 1 : -1) : c < w - 1 ? i + 1 : -1;
        if (j >= 0 && mask[j] === 1 && !seen[j]) {
          seen[j] = 1;
          stack.push(j);
        }
      }
    }
    if (blob.length < min) for (const i of blob) mask[i] = 0;
  }
  return mask;
}

/** `masks` (images of h x w laid end to end) with every blob under `minBlob` pixels dropped, as a copy. */
export function cleanMasks(masks: Uint8Array, h: number, w: number, minBlob: number): Uint8Array {
  const out = masks.slice();
  if (minBlob > 1) for (let k = 0; k < out.length / (h * w); k++) dropSmallBlobs(out.subarray(k * h * w, (k + 1) * h * w), h, w, minBlob);
  return out;
}

/** The baseline's masks from precomputed deviations, at threshold `t`. */
function masksAt(deviation: Float32Array, h: number, w: number, t: number): Uint8Array {
  const out = new Uint8Array(deviation.length);
  for (let i = 0; i < out.length; i++) out[i] = deviation[i]! > t ? 1 : 0;
  for (let k = 0; k < deviation.length / (h * w); k++) dropSmallBlobs(out.subarray(k * h * w, (k + 1) * h * w), h, w, BASELINE_MIN_BLOB);
  return out;
}

/** The baseline's masks of the first `count` images of `set` at threshold `t` (Note [threshold baseline]). */
export function thresholdMasks(set: LesionImages, t: number, count = set.length): Uint8Array {
  return masksAt(baselineDeviations(set, count), set.height, set.width, t);
}

/** The baseline's threshold, tuned on up to 256 images of `train` (Note [threshold baseline]). */
export function tuneThreshold(train: LesionImages): number {
  const count = Math.min(256, train.length);
  const p = train.height * train.width;
  const d = baselineDeviations(train, count);
  const truth = train.masks.subarray(0, count * p);
  let best = { t: GRID_STEP, dice: -1 };
  for (let j = 1; j <= GRID_STEPS; j++) {
    const t = Math.round(j * GRID_STEP * 10) / 10;
    const score = segmentationScores(truth, masksAt(d, train.height, train.width, t), p).dice;
    if (score > best.dice) best = { t, dice: score };
  }
  return best.t;
}

/** The training and test images the options choose: the phantoms, or slices of NIfTI volumes. */
export function lesionData(s: RecipeSettings): { train: LesionImages; test: LesionImages } {
  const image = s.options.image as string | undefined, mask = s.options.mask as string | undefined;
  if ((image === undefined) !== (mask === undefined)) {
    throw new RangeError(`lesions: --image and --mask go together (the scans and their lesion masks); got only --${image === undefined ? "mask" : "image"}`);
  }
  const key = JSON.stringify([image, mask, s.options["slice-axis"], s.options.phantoms, s.options["test-phantoms"]]);
  let data = dataCache.get(key);
  if (!data) {
    data = image !== undefined
      ? loadNiftiSegmentation(niftiPairs(image, mask!), s.options["slice-axis"] as number)
      : { train: loadLesionPhantoms("train", s.options.phantoms as number), test: loadLesionPhantoms("test", s.options["test-phantoms"] as number) };
    dataCache.set(key, data);
  }
  return data;
}

const dataCache = new Map<string, { train: LesionImages; test: LesionImages }>();
const thresholdCache = new Map<LesionImages, number>();

/** The U-Net's width the options ask for. */
const widthOf = (s: RecipeSettings): number => s.options.width as number;

export const lesions = defineRecipe<LesionSample, SegmentationBatch>({
  name: "lesions",
  summary: "a small U-Net outlining lesions in 64x64 synthetic phantoms (4,096 train / 512 test; or NIfTI scans with --image/--mask), mean Dice >= 0.85",
  // Measured in docs/recipes/lesions.md.
  defaults: { epochs: 20, batch: 16, lr: 3e-3, seed: 0 },
  options: {
    width: { type: "int", min: 1, max: 256, default: 16, help: "channels of the U-Net's first level (the second has 2x, the bottleneck 4x)" },
    phantoms: { type: "int", min: 1, max: 1 << 20, default: 4096, help: "training phantoms (generated on first use and cached)" },
    "test-phantoms": { type: "int", min: 1, max: 1 << 20, default: 512, help: "test phantoms (a split of their own, never trained on)" },
    "dice-weight": { type: "number", min: 0, default: 1, help: "weight of the soft Dice term beside binary cross-entropy in the loss" },
    augment: { type: "choice", choices: ["flips", "none"], default: "flips", help: "flips: each training image turned or mirrored by a random symmetry of the square" },
    "min-blob": { type: "int", min: 1, max: 4096, default: 5, help: "after thresholding, predicted blobs of fewer pixels than this are dropped as noise (1 keeps all)" },
    "warmup-steps": { type: "int", min: 0, default: 50, help: "steps of linear learning-rate warm-up before the cosine decay" },
    image: { type: "string", placeholder: "PATHS", help: "train on NIfTI scans instead (.nii or .nii.gz, comma-separated), with --mask" },
    mask: { type: "string", placeholder: "PATHS", help: "the lesion masks of the --image scans, one per scan, in the same order (voxels above 0 are lesion)" },
    "slice-axis": { type: "int", min: 0, max: 2, default: 2, help: "with --image: the axis the volumes are sliced across (2: the third, axial for most scans)" },
  },
  metric: { name: "dice", higherIsBetter: true },
  data: (s) => ({ train: lesionData(s).train, collate: collateLesions(s.options.augment === "flips", s.options["dice-weight"] as number) }),
  model: (s) => new UNet({ inChannels: 1, width: widthOf(s) }),
  loss: (model, batch) => segmentationLoss(model, batch),
  samplesIn: (batch) => batch.n,
  optimizer: (model, s) => new Adam(model.parameters(), { lr: s.lr }),
  schedule: (s, total) => warmupCosine({ peak: s.lr, warmup: s.options["warmup-steps"] as number, total }),
  evaluate: (model, s) => {
    const { train, test } = lesionData(s);
    const pixels = test.height * test.width;
    const raw = predictMasks(model, test);
    const predicted = cleanMasks(raw, test.height, test.width, s.options["min-blob"] as number);
    const scores = segmentationScores(test.masks, predicted, pixels);
    let t = thresholdCache.get(train);
    if (t === undefined) thresholdCache.set(train, (t = tuneThreshold(train)));
    const baseline = segmentationScores(test.masks, thresholdMasks(test, t), pixels);
    const empty = segmentationScores(test.masks, new Uint8Array(test.masks.length), pixels);
    return {
      dice: scores.dice, iou: scores.iou, pooled_dice: scores.pooledDice, raw_dice: segmentationScores(test.masks, raw, pixels).dice,
      threshold_dice: baseline.dice, threshold: t, empty_dice: empty.dice,
      test_images: test.length, train_images: train.length,
    };
  },
});
