// Segmentation metrics on plain binary masks (1 = the structure, anything else = background), one
// image at a time or averaged over images.
//
// Note [empty masks]
// Dice = 2 |T ∩ P| / (|T| + |P|) and IoU = |T ∩ P| / |T ∪ P| are 0 / 0 when both the true mask T
// and the prediction P are empty: an image without a lesion on which the model rightly finds
// none. That image scores 1 here (a perfect answer), as MONAI's DiceMetric scores it with
// ignore_empty=False (nnU-Net's evaluation instead leaves such a case out as NaN, which would
// hide false alarms on lesion-free images); an empty truth with any predicted pixel scores 0, as
// does a missed lesion. The mean over images therefore rewards a clean "nothing
// here" as much as a well-outlined lesion and punishes a single false pixel on an empty image as
// hard as a missed one. pooledDice (all images' pixels counted together) has no such case unless
// every mask is empty, and weighs images by their lesion area instead.

/** The counts one comparison of masks rests on. */
export interface MaskOverlap {
  /** Pixels in both. */
  intersection: number;
  /** Pixels in the truth. */
  truth: number;
  /** Pixels in the prediction. */
  predicted: number;
}

function checkSizes(op: string, truth: ArrayLike<number>, predicted: ArrayLike<number>): void {
  if (truth.length !== predicted.length) {
    throw new Error(`${op}: the true mask has ${truth.length} pixels and the prediction ${predicted.length}; compare masks of one image size`);
  }
}

/**
 * Counts the pixels of a true mask, a predicted one, and both.
 *
 * @example
 * ```ts
 * assert.deepEqual(maskOverlap([1, 1, 0, 0], [0, 1, 1, 0]), { intersection: 1, truth: 2, predicted: 2 });
 * ```
 */
export function maskOverlap(truth: ArrayLike<number>, predicted: ArrayLike<number>): MaskOverlap {
  checkSizes("maskOverlap", truth, predicted);
  let intersection = 0, t = 0, p = 0;
  for (let i = 0; i < truth.length; i++) {
    const inT = truth[i] === 1, inP = predicted[i] === 1;
    if (inT) t++;
    if (inP) p++;
    if (inT && inP) intersection++;
  }
  return { intersection, truth: t, predicted: p };
}

/** Dice of the counts; 1 when both masks are empty (Note [empty masks]). */
export function diceOf(o: MaskOverlap): number {
  return o.truth + o.predicted === 0 ? 1 : (2 * o.intersection) / (o.truth + o.predicted);
}

/** IoU (Jaccard) of the counts; 1 when both masks are empty (Note [empty masks]). */
export function iouOf(o: MaskOverlap): number {
  const union = o.truth + o.predicted - o.intersection;
  return union === 0 ? 1 : o.intersection / union;
}

/**
 * The Dice coefficient 2 |T ∩ P| / (|T| + |P|) of one image's masks (Note [empty masks]).
 *
 * @example Two of four pixels each, one in common: 2 * 1 / (2 + 2)
 * ```ts
 * assert.equal(dice([1, 1, 0, 0], [0, 1, 1, 0]), 0.5);
 * assert.equal(dice([0, 0], [0, 0]), 1);
 * assert.equal(dice([0, 0], [0, 1]), 0);
 * ```
 */
export function dice(truth: ArrayLike<number>, predicted: ArrayLike<number>): number {
  return diceOf(maskOverlap(truth, predicted));
}

/**
 * Intersection over union |T ∩ P| / |T ∪ P| of one image's masks (Note [empty masks]).
 *
 * @example One pixel in common out of three in either
 * ```ts
 * assert.equal(iou([1, 1, 0, 0], [0, 1, 1, 0]), 1 / 3);
 * ```
 */
export function iou(truth: ArrayLike<number>, predicted: ArrayLike<number>): number {
  return iouOf(maskOverlap(truth, predicted));
}

/** Scores of a set of images. */
export interface SegmentationScores {
  /** Mean over images of each image's Dice (Note [empty masks]). */
  dice: number;
  /** Mean over images of each image's IoU. */
  iou: number;
  /** Dice of all images' pixels counted together. */
  pooledDice: number;
  /** Each image's Dice, in order. */
  perImage: Float64Array;
}

/**
 * Per-image Dice and IoU averaged over `images` masks laid end to end (each `pixels` long), and
 * the pooled Dice of all their pixels.
 *
 * @example Two images of two pixels: a half-right one and an empty one rightly left empty
 * ```ts
 * const s = segmentationScores([1, 1, 0, 0], [1, 0, 0, 0], 2);
 * assert.deepEqual([...s.perImage], [2 / 3, 1]);
 * assert.equal(s.dice, (2 / 3 + 1) / 2);
 * assert.equal(s.iou, (1 / 2 + 1) / 2);
 * assert.equal(s.pooledDice, 2 / 3);
 * ```
 */
export function segmentationScores(truth: ArrayLike<number>, predicted: ArrayLike<number>, pixels: number): SegmentationScores {
  checkSizes("segmentationScores", truth, predicted);
  if (!Number.isInteger(pixels) || pixels < 1 || truth.length % pixels !== 0) {
    throw new Error(`segmentationScores: ${truth.length} pixels are not whole images of ${pixels}; pass the pixels of one image`);
  }
  const images = truth.length / pixels;
  const perImage = new Float64Array(images);
  let iouSum = 0;
  const total: MaskOverlap = { intersection: 0, truth: 0, predicted: 0 };
  for (let k = 0; k < images; k++) {
    let intersection = 0, t = 0, p = 0;
    for (let i = k * pixels; i < (k + 1) * pixels; i++) {
      const inT = truth[i] === 1, inP = predicted[i] === 1;
      if (inT) t++;
      if (inP) p++;
      if (inT && inP) intersection++;
    }
    const o = { intersection, truth: t, predicted: p };
    perImage[k] = diceOf(o);
    iouSum += iouOf(o);
    total.intersection += intersection;
    total.truth += t;
    total.predicted += p;
  }
  const diceSum = perImage.reduce((a, b) => a + b, 0);
  return { dice: images === 0 ? 0 : diceSum / images, iou: images === 0 ? 0 : iouSum / images, pooledDice: diceOf(total), perImage };
}
