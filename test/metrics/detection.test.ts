// Detection metrics against examples worked out by hand: IoU, greedy NMS, all-point average
// precision, and mAP with a duplicate, a miss below the IoU threshold, a wrong class, a class
// without ground truths and a class without detections (Note [VOC average precision]).
import assert from "node:assert/strict";
import { test } from "node:test";
import { averagePrecision, iou, meanAveragePrecision, nonMaxSuppression, type Box, type Detection, type GroundTruth } from "../../src/metrics/detection.js";

const box = (x0: number, y0: number, x1: number, y1: number): Box => ({ x0, y0, x1, y1 });
const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);

test("IoU: shared area over covered area; disjoint, touching and empty boxes share nothing", () => {
  close(iou(box(0, 0, 10, 10), box(1, 0, 11, 10)), 90 / 110, "shifted by 1");
  close(iou(box(0, 0, 10, 10), box(2, 2, 4, 4)), 4 / 100, "contained");
  close(iou(box(0, 0, 4, 8), box(0, 0, 4, 4)), 0.5, "half");
  assert.equal(iou(box(0, 0, 10, 10), box(0, 0, 10, 10)), 1);
  assert.equal(iou(box(0, 0, 10, 10), box(10, 0, 20, 10)), 0, "touching edges");
  assert.equal(iou(box(0, 0, 10, 10), box(30, 30, 40, 40)), 0, "disjoint");
  assert.equal(iou(box(3, 3, 3, 3), box(3, 3, 3, 3)), 0, "no area");
});

test("NMS is greedy: a suppressed box suppresses nothing; images and classes are apart", () => {
  // a-b and b-c overlap by IoU 80/120 = 2/3, a-c by 60/140 = 3/7: b goes, so c stays.
  const d = (score: number, b: Box, cls = 0, image = 0): Detection => ({ image, cls, score, box: b });
  const chain = [d(0.8, box(2, 0, 12, 10)), d(0.9, box(0, 0, 10, 10)), d(0.7, box(4, 0, 14, 10))];
  assert.deepEqual(nonMaxSuppression(chain, 0.5), [1, 2]);
  // At 0.7 nothing overlaps enough; at 0.4 c also clashes with a (3/7 > 0.4).
  assert.deepEqual(nonMaxSuppression(chain, 0.7), [1, 0, 2]);
  assert.deepEqual(nonMaxSuppression(chain, 0.4), [1]);
  // The same box in another image or of another class is not a duplicate.
  assert.deepEqual(nonMaxSuppression([d(0.9, box(0, 0, 10, 10)), d(0.8, box(0, 0, 10, 10), 0, 1), d(0.7, box(0, 0, 10, 10), 1)], 0.5), [0, 1, 2]);
  // Equal scores: input order decides.
  assert.deepEqual(nonMaxSuppression([d(0.5, box(0, 0, 10, 10)), d(0.5, box(0, 0, 10, 10))], 0.5), [0]);
  assert.throws(() => nonMaxSuppression(chain, 1.5), /IoU threshold 1.5 is not in \[0, 1\]/);
});

test("average precision interpolates precision from the right over every recall step", () => {
  // T F F T T against 3 truths: recall 1/3 1/3 1/3 2/3 1, precision 1 1/2 1/3 1/2 3/5;
  // from the right 1 .6 .6 .6 .6: AP = 1/3 * 1 + 1/3 * .6 + 1/3 * .6 = 11/15.
  close(averagePrecision([true, false, false, true, true], 3), 11 / 15, "T F F T T");
  // Half the truths never found: the missing recall counts 0.
  close(averagePrecision([true, true], 4), 0.5, "T T of 4");
  assert.equal(averagePrecision([], 2), 0);
  assert.equal(averagePrecision([false, false], 1), 0);
  assert.throws(() => averagePrecision([true], 0), /0 ground truths/);
  assert.throws(() => averagePrecision([true, true], 1), /2 true positives for 1 ground truths/);
});

// Class 0: truths A, B in image 0 and C in image 1.
// Class 1: truth D = (0, 0, 4, 8) in image 1. Class 2: no truth. Class 3: one truth, never detected.
const truths: GroundTruth[] = [
  { image: 0, cls: 0, box: box(0, 0, 10, 10) }, // A
  { image: 0, cls: 0, box: box(20, 20, 30, 30) }, // B
  { image: 1, cls: 0, box: box(0, 0, 10, 10) }, // C
  { image: 1, cls: 1, box: box(0, 0, 4, 8) }, // D
  { image: 2, cls: 3, box: box(50, 50, 60, 70) },
];
const detections: Detection[] = [
  { image: 0, cls: 0, score: 0.9, box: box(0, 0, 10, 10) }, // A exactly: TP
  { image: 0, cls: 0, score: 0.8, box: box(1, 0, 11, 10) }, // A again (IoU 9/11): a duplicate, FP
  { image: 1, cls: 0, score: 0.7, box: box(5, 0, 15, 10) }, // C at IoU 1/3: FP at 0.5
  { image: 0, cls: 0, score: 0.6, box: box(20, 20, 30, 30) }, // B: TP
  { image: 1, cls: 0, score: 0.5, box: box(0, 0, 10, 10) }, // C: TP
  { image: 0, cls: 1, score: 0.99, box: box(0, 0, 10, 10) }, // the right place for A, the wrong class: FP
  { image: 1, cls: 1, score: 0.95, box: box(0, 0, 4, 4) }, // D at IoU exactly 0.5: not above it, FP
  { image: 1, cls: 1, score: 0.3, box: box(0, 0, 4, 8) }, // D: TP
  { image: 0, cls: 2, score: 0.99, box: box(20, 20, 30, 30) }, // a class with no truths: counts for nothing
];

test("mAP@0.5 by hand: a duplicate, a loose box, a wrong class, a class without truths, a class never found", () => {
  const r = meanAveragePrecision(truths, detections, { classes: 4 });
  // Class 0: T F F T T against 3 truths, 11/15 (as above).
  // Class 1: F F T against 1 truth: recall 0 0 1, precision 0 0 1/3: AP 1/3.
  // Class 2: undefined, left out. Class 3: AP 0. mAP = (11/15 + 1/3 + 0) / 3 = 16/45.
  close(r.perClass[0]!, 11 / 15, "class 0");
  close(r.perClass[1]!, 1 / 3, "class 1");
  assert.equal(r.perClass[2], undefined);
  assert.equal(r.perClass[3], 0);
  close(r.map, 16 / 45, "mAP");
  assert.deepEqual(r.truths, [3, 1, 0, 1]);
  assert.deepEqual(r.truePositives, [3, 1, 0, 0]);
  assert.deepEqual(r.detections, [5, 3, 1, 0]);
});

test("mAP at IoU 0.3: the loose box now finds C first, so the exact one after it is the duplicate", () => {
  const r = meanAveragePrecision(truths, detections, { classes: 4, iouThreshold: 0.3 });
  // Class 0: T F T T F: recall 1/3 1/3 2/3 1 1, precision 1 1/2 2/3 3/4 3/5,
  // from the right 1 .75 .75 .75 .6: AP = 1/3 + 1/3 * .75 + 1/3 * .75 = 5/6.
  // Class 1: the 0.95 box (IoU 0.5 > 0.3) finds D: F T F, AP = 1 * 1/2.
  close(r.perClass[0]!, 5 / 6, "class 0");
  close(r.perClass[1]!, 1 / 2, "class 1");
  close(r.map, (5 / 6 + 1 / 2 + 0) / 3, "mAP");
});

test("the order of the detections does not matter, only their scores; perfect detections score 1", () => {
  const shuffled = [...detections].reverse();
  assert.deepEqual(meanAveragePrecision(truths, shuffled, { classes: 4 }), meanAveragePrecision(truths, detections, { classes: 4 }));
  const perfect = truths.map((t, i) => ({ ...t, score: 1 - i / 10 }));
  assert.equal(meanAveragePrecision(truths, perfect, { classes: 4 }).map, 1);
  assert.equal(meanAveragePrecision([], perfect.slice(0, 0), { classes: 4 }).map, 0);
});

test("bad classes, scores and thresholds are refused by name", () => {
  assert.throws(() => meanAveragePrecision(truths, detections, { classes: 3 }), /ground truth 4 has class 3, outside 0\.\.2/);
  assert.throws(() => meanAveragePrecision(truths, [{ ...detections[0]!, score: Number.NaN }], { classes: 4 }), /detection 0 has score NaN/);
  assert.throws(() => meanAveragePrecision(truths, detections, { classes: 4, iouThreshold: 1 }), /IoU threshold 1 is not in \[0, 1\)/);
});
