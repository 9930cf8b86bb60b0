// Segmentation metrics (src/metrics/segmentation.ts) on masks worked out by hand, including the
// empty-mask convention (Note [empty masks]).
import assert from "node:assert/strict";
import { test } from "node:test";
import { dice, iou, maskOverlap, segmentationScores } from "../../src/metrics/segmentation.js";

/** A mask from rows of "#" (lesion) and "." (background). */
const mask = (...rows: string[]): Uint8Array => Uint8Array.from(rows.join(""), (ch) => (ch === "#" ? 1 : 0));

test("Dice and IoU of two overlapping squares, by hand", () => {
  // Truth: a 3 x 3 square (9 pixels). Prediction: the same square moved one pixel right (9 pixels).
  // They share a 3 x 2 block (6 pixels): Dice = 2 * 6 / (9 + 9) = 2/3, IoU = 6 / (9 + 9 - 6) = 1/2.
  const truth = mask(".....", ".###.", ".###.", ".###.", ".....");
  const predicted = mask(".....", "..###", "..###", "..###", ".....");
  assert.deepEqual(maskOverlap(truth, predicted), { intersection: 6, truth: 9, predicted: 9 });
  assert.equal(dice(truth, predicted), 2 / 3);
  assert.equal(iou(truth, predicted), 1 / 2);
  // Dice = 2 IoU / (1 + IoU) for any pair.
  assert.ok(Math.abs(dice(truth, predicted) - (2 * 0.5) / 1.5) < 1e-15);
});

test("a prediction inside the truth: Dice 2|P| / (|T| + |P|), IoU |P| / |T|", () => {
  const truth = mask("####", "####"); // 8
  const predicted = mask(".##.", "...."); // 2, inside
  assert.equal(dice(truth, predicted), (2 * 2) / (8 + 2));
  assert.equal(iou(truth, predicted), 2 / 8);
  assert.equal(dice(truth, truth), 1);
  assert.equal(dice(truth, mask("....", "....")), 0);
});

test("empty masks: both empty scores 1, a false alarm on an empty image scores 0 (Note [empty masks])", () => {
  const empty = mask("...", "...");
  assert.equal(dice(empty, empty), 1);
  assert.equal(iou(empty, empty), 1);
  assert.equal(dice(empty, mask("...", ".#.")), 0);
  assert.equal(iou(empty, mask("...", ".#.")), 0);
  assert.equal(dice(mask("#..", "..."), empty), 0);
});

test("segmentationScores: the mean of per-image scores, and the pooled Dice, on three hand-worked images", () => {
  // Image 1: the squares above (Dice 2/3, IoU 1/2). Image 2: empty, predicted empty (1, 1).
  // Image 3: one true pixel, missed, and one false one (0, 0).
  const t = [mask(".....", ".###.", ".###.", ".###.", "....."), mask("....."), mask("#....")];
  const p = [mask(".....", "..###", "..###", "..###", "....."), mask("....."), mask("....#")];
  // Pad images 2 and 3 to 25 pixels (4 empty rows each).
  const pad = (m: Uint8Array) => { const out = new Uint8Array(25); out.set(m); return out; };
  const truth = Uint8Array.from([...t[0]!, ...pad(t[1]!), ...pad(t[2]!)]);
  const predicted = Uint8Array.from([...p[0]!, ...pad(p[1]!), ...pad(p[2]!)]);
  const s = segmentationScores(truth, predicted, 25);
  assert.deepEqual([...s.perImage], [2 / 3, 1, 0]);
  assert.equal(s.dice, (2 / 3 + 1 + 0) / 3);
  assert.equal(s.iou, (1 / 2 + 1 + 0) / 3);
  // Pooled: intersection 6, truth 9 + 0 + 1 = 10, predicted 9 + 0 + 1 = 10: 12 / 20.
  assert.equal(s.pooledDice, 12 / 20);
});

test("masks of different sizes, and pixels that are not whole images, are refused", () => {
  assert.throws(() => dice([1, 0], [1]), /the true mask has 2 pixels and the prediction 1/);
  assert.throws(() => segmentationScores([1, 0, 0], [1, 0, 0], 2), /3 pixels are not whole images of 2/);
});
