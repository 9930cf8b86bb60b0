// Object-detection measures on plain boxes: intersection over union, greedy non-maximum
// suppression, and mean average precision at an IoU threshold as the Pascal VOC challenge
// computes it (Note [VOC average precision]).
//
// A box is continuous pixel edges: x0 <= x < x1, y0 <= y < y1, so a box's area is
// (x1 - x0)(y1 - y0). The VOC devkit's integer boxes add 1 to each side's length (pixel centres
// rather than edges); on continuous edges there is nothing to add.

/** An axis-aligned box by its edges, in pixels (x0 <= x1, y0 <= y1). */
export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** One true object: which image, which class, where. */
export interface GroundTruth {
  image: number;
  cls: number;
  box: Box;
}

/** One detection: a ground truth's fields and a confidence score (higher is surer). */
export interface Detection extends GroundTruth {
  score: number;
}

/**
 * Intersection over union of two boxes: the area they share over the area either covers. Two
 * boxes of no area have IoU 0.
 *
 * @example Two 2x2 boxes sharing a 1x2 strip
 * ```ts
 * assert.equal(iou({ x0: 0, y0: 0, x1: 2, y1: 2 }, { x0: 1, y0: 0, x1: 3, y1: 2 }), 2 / 6);
 * ```
 */
export function iou(a: Box, b: Box): number {
  const w = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0);
  const h = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const union = (a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Greedy non-maximum suppression: visit the detections by descending score (ties: input order)
 * and keep one unless it overlaps a kept detection of the same image and class by more than
 * `iouThreshold` IoU. Detections of different classes never suppress each other. Returns the
 * indices kept, in the order visited (highest score first).
 *
 * @example The weaker of two overlapping 3s goes; the 5 on top of them stays
 * ```ts
 * const box = { x0: 0, y0: 0, x1: 10, y1: 10 };
 * const kept = nonMaxSuppression([
 *   { image: 0, cls: 3, score: 0.6, box },
 *   { image: 0, cls: 3, score: 0.9, box: { ...box, x0: 1 } },
 *   { image: 0, cls: 5, score: 0.5, box },
 * ], 0.5);
 * assert.deepEqual(kept, [1, 2]);
 * ```
 */
export function nonMaxSuppression(detections: readonly Detection[], iouThreshold: number): number[] {
  if (!(iouThreshold >= 0 && iouThreshold <= 1)) {
    throw new RangeError(`nonMaxSuppression: IoU threshold ${iouThreshold} is not in [0, 1]: pass e.g. 0.5`);
  }
  const kept: number[] = [];
  // Only detections of one image and class can clash: each is compared with its own group's kept ones.
  const keptOf = new Map<string, Box[]>();
  for (const i of byScore(detections)) {
    const d = detections[i]!;
    const key = `${d.image}:${d.cls}`;
    let group = keptOf.get(key);
    if (!group) keptOf.set(key, (group = []));
    if (group.some((box) => iou(box, d.box) > iouThreshold)) continue;
    group.push(d.box);
    kept.push(i);
  }
  return kept;
}

// Note [VOC average precision]
// For each class c, as the Pascal VOC 2010-2012 devkit (VOCevaldet.m) does:
//  1. Take every detection of class c over all images, by descending score (ties keep input order).
//  2. Each is compared with the ground truths of class c in its own image; the one of highest IoU
//     is its candidate. If that IoU exceeds the threshold (strictly: VOC's "> 0.5") and the
//     candidate is not yet matched, the detection is a true positive and the candidate is
//     matched; otherwise it is a false positive. So a second detection of an object already found
//     is a false positive (a duplicate), even when another, worse-overlapping truth is free.
//  3. After the k-th detection, recall = TP_k / G (G: the class's ground truths) and precision =
//     TP_k / k.
//  4. AP is the area under the interpolated precision-recall curve (VOC 2010's all-point
//     interpolation, not VOC 2007's 11 points nor COCO's 101): precision is first replaced by its
//     running maximum from the right (p_interp(r) = max over r' >= r of p(r')), then
//     AP = sum over k of (r_k - r_{k-1}) p_interp(r_k), with r_0 = 0. Recall never reached counts 0.
// A class with ground truths but no detections has AP 0. A class with no ground truths has no
// recall to measure: its AP is undefined (VOC's devkit divides by zero there) and, as COCO does,
// it is left out of the mean; its detections cost nothing. mAP is the mean AP over the classes
// that have ground truths.

/** What meanAveragePrecision finds, per class and overall. */
export interface MeanAveragePrecision {
  /** Mean AP over the classes with at least one ground truth (0 when no class has any). */
  map: number;
  /** AP per class; undefined for a class with no ground truths (Note [VOC average precision]). */
  perClass: (number | undefined)[];
  /** Ground truths per class. */
  truths: number[];
  /** True positives per class when every detection is counted. */
  truePositives: number[];
  /** Detections per class. */
  detections: number[];
}

/**
 * Average precision from a ranked list of hits (true or false positives, best score first) against
 * `truths` objects, by all-point interpolation (Note [VOC average precision], step 4).
 *
 * @example Hit, miss, hit against 2 truths: (1/2)(1) + (1/2)(2/3)
 * ```ts
 * assert.equal(averagePrecision([true, false, true], 2), 0.5 + 0.5 * (2 / 3));
 * ```
 */
export function averagePrecision(hits: readonly boolean[], truths: number): number {
  if (!(Number.isInteger(truths) && truths > 0)) {
    throw new RangeError(`averagePrecision: ${truths} ground truths: AP needs at least one (a class without any has none: leave it out)`);
  }
  const recall: number[] = [];
  const precision: number[] = [];
  let tp = 0;
  hits.forEach((hit, k) => {
    if (hit) tp++;
    recall.push(tp / truths);
    precision.push(tp / (k + 1));
  });
  if (tp > truths) throw new RangeError(`averagePrecision: ${tp} true positives for ${truths} ground truths: each truth can be matched once`);
  for (let k = precision.length - 2; k >= 0; k--) precision[k] = Math.max(precision[k]!, precision[k + 1]!);
  let ap = 0;
  let previous = 0;
  for (let k = 0; k < recall.length; k++) {
    ap += (recall[k]! - previous) * precision[k]!;
    previous = recall[k]!;
  }
  return ap;
}

/**
 * Mean average precision of `detections` against `truths` over `classes` classes (0 to classes - 1)
 * at IoU above `iouThreshold` (default 0.5: mAP@0.5), as Note [VOC average precision] defines it.
 *
 * @example One truth found twice: the second detection is a duplicate, a false positive after it
 * ```ts
 * const box = { x0: 0, y0: 0, x1: 10, y1: 10 };
 * const r = meanAveragePrecision([{ image: 0, cls: 0, box }], [
 *   { image: 0, cls: 0, score: 0.9, box },
 *   { image: 0, cls: 0, score: 0.8, box },
 * ], { classes: 2 });
 * assert.deepEqual([r.map, r.perClass, r.truePositives], [1, [1, undefined], [1, 0]]);
 * ```
 */
export function meanAveragePrecision(
  truths: readonly GroundTruth[],
  detections: readonly Detection[],
  o: { classes: number; iouThreshold?: number },
): MeanAveragePrecision {
  const { classes } = o;
  const threshold = o.iouThreshold ?? 0.5;
  if (!(Number.isInteger(classes) && classes > 0)) throw new RangeError(`meanAveragePrecision: classes ${classes} must be a positive integer`);
  if (!(threshold >= 0 && threshold < 1)) throw new RangeError(`meanAveragePrecision: IoU threshold ${threshold} is not in [0, 1): pass e.g. 0.5`);
  const checkClass = (what: string, i: number, cls: number): void => {
    if (!(Number.isInteger(cls) && cls >= 0 && cls < classes)) {
      throw new RangeError(`meanAveragePrecision: ${what} ${i} has class ${cls}, outside 0..${classes - 1}`);
    }
  };
  truths.forEach((t, i) => checkClass("ground truth", i, t.cls));
  detections.forEach((d, i) => {
    checkClass("detection", i, d.cls);
    if (Number.isNaN(d.score)) throw new RangeError(`meanAveragePrecision: detection ${i} has score NaN: scores must be comparable numbers`);
  });

  // Ground truths by class, then image: key `${cls}:${image}` -> indices into truths.
  const truthsAt = new Map<string, number[]>();
  const truthCount = new Array<number>(classes).fill(0);
  truths.forEach((t, i) => {
    const key = `${t.cls}:${t.image}`;
    const list = truthsAt.get(key);
    if (list) list.push(i);
    else truthsAt.set(key, [i]);
    truthCount[t.cls]!++;
  });
  const matched = new Uint8Array(truths.length);
  const hitsOf: boolean[][] = Array.from({ length: classes }, () => []);
  for (const i of byScore(detections)) {
    const d = detections[i]!;
    let best = -1;
    let bestIou = -Infinity;
    for (const t of truthsAt.get(`${d.cls}:${d.image}`) ?? []) {
      const overlap = iou(d.box, truths[t]!.box);
      if (overlap > bestIou) [best, bestIou] = [t, overlap];
    }
    const hit = best >= 0 && bestIou > threshold && matched[best] === 0;
    if (hit) matched[best] = 1;
    hitsOf[d.cls]!.push(hit);
  }
  const perClass = hitsOf.map((hits, c) => (truthCount[c] === 0 ? undefined : averagePrecision(hits, truthCount[c]!)));
  const measured = perClass.filter((ap): ap is number => ap !== undefined);
  return {
    map: measured.length === 0 ? 0 : measured.reduce((a, b) => a + b, 0) / measured.length,
    perClass,
    truths: truthCount,
    truePositives: hitsOf.map((hits) => hits.filter((h) => h).length),
    detections: hitsOf.map((hits) => hits.length),
  };
}

/** Indices of `detections` by descending score; equal scores keep their input order (a stable sort). */
function byScore(detections: readonly Detection[]): number[] {
  return detections.map((_, i) => i).sort((a, b) => detections[b]!.score - detections[a]!.score || a - b);
}
