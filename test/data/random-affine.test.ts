// The affine augmentation against what each transform must do: nothing at identity, whole-pixel
// moves equal to shiftImage's, ink kept near the centre under rotation and scaling, and a seeded
// draw repeatable.
import assert from "node:assert/strict";
import { test } from "node:test";
import { affineImage, randomAffineAugment } from "../../src/data/random-affine.js";
import { shiftImage } from "../../src/data/random-shift.js";
import { Rng } from "../../src/util/rng.js";

const digit = (): Float32Array => Float32Array.from({ length: 28 * 28 }, (_, i) => ((i * 7919) % 13) / 13);

test("the identity transform and whole-pixel shifts reproduce the image and shiftImage", () => {
  const image = digit();
  assert.deepEqual(affineImage(image, 28, 0, 1, 0, 0, new Float32Array(784)), image);
  for (const [dx, dy] of [[1, 0], [-2, 3], [0, -1]] as const) {
    const moved = affineImage(image, 28, 0, 1, dx, dy, new Float32Array(784));
    const expected = shiftImage(image, 28, 28, dx, dy, new Float32Array(784));
    for (let i = 0; i < 784; i++) assert.ok(Math.abs(moved[i]! - expected[i]!) < 1e-6, `(${dx}, ${dy}) pixel ${i}`);
  }
});

test("a half-pixel shift averages neighbours; a half turn reverses the image", () => {
  const row = new Float32Array(9);
  row[4] = 1; // the centre of a 3x3 image
  const half = affineImage(row, 3, 0, 1, 0.5, 0, new Float32Array(9));
  assert.ok(Math.abs(half[4]! - 0.5) < 1e-6 && Math.abs(half[5]! - 0.5) < 1e-6);
  const image = digit();
  const turned = affineImage(image, 28, Math.PI, 1, 0, 0, new Float32Array(784));
  for (let i = 0; i < 784; i++) assert.ok(Math.abs(turned[i]! - image[783 - i]!) < 1e-5, `pixel ${i}`);
});

test("randomAffineAugment is repeatable from a seed and refuses ranges it cannot draw", () => {
  const augment = randomAffineAugment({ rotate: 10, scale: 0.1, shift: 2 });
  const [a, b] = [new Float32Array(784), new Float32Array(784)];
  augment(digit(), a, new Rng(5));
  augment(digit(), b, new Rng(5));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, digit());
  assert.throws(() => randomAffineAugment({ rotate: 10, scale: 1, shift: 0 }), /scale below 1/);
  assert.throws(() => randomAffineAugment({ rotate: -1, scale: 0, shift: 0 }), /each must be >= 0/);
});
