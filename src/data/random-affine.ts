// Small random rotations, scalings and translations of a square single-plane image, the
// augmentation that takes a small CNN past 99% on a few thousand MNIST digits: a digit written a
// little slanted, larger or off-centre is still the same digit. Each output pixel reads the
// source at the inverse-transformed point by bilinear interpolation; points outside the source
// read zero (MNIST's background).

import type { Rng } from "../util/rng.js";
import type { Augment } from "./collate-labeled.js";

export interface AffineRange {
  /** Largest rotation either way, in degrees. */
  rotate: number;
  /** Largest relative change of size either way (0.1: from 90% to 110%). */
  scale: number;
  /** Largest translation either way, in pixels (need not be whole). */
  shift: number;
}

/**
 * Writes `image` (side x side) rotated by `angle` radians and scaled by `scale` about its centre,
 * then moved by (dx, dy) pixels, into `out`.
 *
 * @example A quarter turn moves the top-left pixel to the top-right
 * ```ts
 * const image = new Float32Array(9);
 * image[0] = 1;
 * const out = affineImage(image, 3, Math.PI / 2, 1, 0, 0, new Float32Array(9));
 * assert.ok(Math.abs(out[2]! - 1) < 1e-6 && Math.abs(out[0]!) < 1e-6);
 * ```
 */
export function affineImage(
  image: Float32Array, side: number, angle: number, scale: number, dx: number, dy: number, out: Float32Array,
): Float32Array {
  if (image.length !== side * side || out.length !== image.length) {
    throw new RangeError(`affineImage: image of ${image.length} values and out of ${out.length} must both be ${side}x${side}`);
  }
  if (out.buffer === image.buffer) throw new RangeError("affineImage cannot transform in place: pass a separate output array");
  if (!(scale > 0)) throw new RangeError(`affineImage: scale ${scale} must be above 0`);
  // Inverse map: source = R(-angle) (destination - centre - shift) / scale + centre.
  const c = (side - 1) / 2;
  const cos = Math.cos(angle) / scale, sin = Math.sin(angle) / scale;
  for (let y = 0; y < side; y++) {
    const ry = y - c - dy;
    for (let x = 0; x < side; x++) {
      const rx = x - c - dx;
      const sx = cos * rx + sin * ry + c;
      const sy = -sin * rx + cos * ry + c;
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      const fx = sx - x0, fy = sy - y0;
      let v = 0;
      // Four neighbours, each weighted by its share of the point; those outside read zero.
      if (y0 >= 0 && y0 < side) {
        if (x0 >= 0 && x0 < side) v += (1 - fx) * (1 - fy) * image[y0 * side + x0]!;
        if (x0 + 1 >= 0 && x0 + 1 < side) v += fx * (1 - fy) * image[y0 * side + x0 + 1]!;
      }
      if (y0 + 1 >= 0 && y0 + 1 < side) {
        if (x0 >= 0 && x0 < side) v += (1 - fx) * fy * image[(y0 + 1) * side + x0]!;
        if (x0 + 1 >= 0 && x0 + 1 < side) v += fx * fy * image[(y0 + 1) * side + x0 + 1]!;
      }
      out[y * side + x] = v;
    }
  }
  return out;
}

/** A random rotation, scaling and shift within `range`, each uniform, as a collate-time augmentation (see collateLabeled). */
export function randomAffineAugment(range: AffineRange): Augment {
  if (!(range.rotate >= 0 && range.scale >= 0 && range.scale < 1 && range.shift >= 0)) {
    throw new RangeError(`randomAffineAugment: rotate ${range.rotate}, scale ${range.scale}, shift ${range.shift}: each must be >= 0, and scale below 1`);
  }
  const radians = (range.rotate * Math.PI) / 180;
  return (source, target, rng: Rng) => {
    const side = Math.round(Math.sqrt(source.length));
    const uniform = (half: number): number => (2 * rng.next() - 1) * half;
    affineImage(source, side, uniform(radians), 1 + uniform(range.scale), uniform(range.shift), uniform(range.shift), target);
  };
}
