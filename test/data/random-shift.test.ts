import assert from "node:assert/strict";
import { test } from "node:test";
import { loadMnist } from "../../src/data/mnist.js";
import { randomShift, randomShiftAugment, shiftImage } from "../../src/data/random-shift.js";
import { Rng } from "../../src/util/rng.js";

/** The definition: out(x, y) = in(x - dx, y - dy), zero where that falls outside. */
function naiveShift(image: Float32Array, width: number, height: number, dx: number, dy: number): Float32Array {
  const out = new Float32Array(image.length);
  const plane = width * height;
  for (let p = 0; p < image.length / plane; p++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const sx = x - dx;
        const sy = y - dy;
        if (sx >= 0 && sx < width && sy >= 0 && sy < height) out[p * plane + y * width + x] = image[p * plane + sy * width + sx];
      }
    }
  }
  return out;
}

test("shiftImage matches the pixel-by-pixel definition for every shift, including off-frame ones", () => {
  const rng = new Rng(1);
  const image = Float32Array.from({ length: 2 * 5 * 7 }, () => rng.next()); // two 7x5 planes
  for (let dx = -8; dx <= 8; dx++) {
    for (let dy = -6; dy <= 6; dy++) {
      const out = shiftImage(image, 7, 5, dx, dy, new Float32Array(image.length).fill(9));
      assert.deepEqual(out, naiveShift(image, 7, 5, dx, dy), `dx ${dx} dy ${dy}`);
    }
  }
});

test("a shift of 0 is the identity", () => {
  const image = loadMnist().train.get(0).x;
  assert.deepEqual(randomShift(image, new Rng(1), 0), image);
  assert.deepEqual(shiftImage(image, 28, 28, 0, 0, new Float32Array(784)), image);
});

test("shifts that keep the digit inside the frame preserve its pixels (and so its mass)", () => {
  const { train } = loadMnist();
  const rng = new Rng(2);
  let checked = 0;
  for (let i = 0; i < 200; i++) {
    const image = train.get(i).x;
    const inked = (x: number, y: number): boolean => image[y * 28 + x] !== 0;
    let border = false;
    for (let k = 0; k < 28 && !border; k++) {
      for (const edge of [0, 1, 26, 27]) border ||= inked(k, edge) || inked(edge, k);
    }
    if (border) continue; // the 2-pixel border is not empty: a shift could cut ink off
    const shifted = randomShift(image, rng, 2);
    assert.deepEqual([...shifted].sort((a, b) => a - b), [...image].sort((a, b) => a - b), `image ${i}`);
    checked++;
  }
  assert.ok(checked > 150, `only ${checked} images had an empty border`);
});

test("randomShift draws every shift in [-2, 2] x [-2, 2] and works as a collate augmentation", () => {
  const image = new Float32Array(25);
  image[12] = 1; // centre of a 5x5 image: the shift is where the pixel lands
  const rng = new Rng(3);
  const landed = new Set<number>();
  for (let i = 0; i < 1000; i++) landed.add(randomShift(image, rng, 2).indexOf(1));
  assert.equal(landed.size, 25);
  const target = new Float32Array(25);
  randomShiftAugment(2)(image, target, new Rng(4));
  assert.deepEqual(target, randomShift(image, new Rng(4), 2));
});

test("bad images and in-place shifts are refused", () => {
  assert.throws(() => randomShift(new Float32Array(10), new Rng(1), 2), /expects a square image, got 10 values/);
  const image = new Float32Array(16);
  assert.throws(() => shiftImage(image, 4, 4, 1, 0, image), /cannot shift in place/);
  assert.throws(() => shiftImage(image, 3, 3, 1, 0, new Float32Array(16)), /do not hold whole 3x3 planes/);
});
