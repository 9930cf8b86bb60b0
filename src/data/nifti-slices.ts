// Real scans for the lesions recipe: 2-D slices of NIfTI volumes (nifti.ts) with the slices of a
// mask volume of the same dims, as the same LesionImages the phantoms are, so the same U-Net
// trains on a deployment's own data: `weft train lesions --image a.nii.gz,b.nii.gz --mask
// a-mask.nii.gz,b-mask.nii.gz`.
//
// Note [NIfTI segmentation slices]
// Each image volume is standardised on its own, (v - mean) / std over all its voxels, so scans
// of different intensity scales (MRI has none of its own) meet the model alike. Every slice
// across `axis` (2: the third axis, axial for most scans) becomes one sample: for axis 2, slice
// k is the Y x X image of voxels (i, j, k), row j, column i (Note [NIfTI voxel order]); axis 1
// gives Z x X images, axis 0 Z x Y. Mask voxels above 0 are lesion (1): a label map with several
// labels is read as "any label". All slices are padded, at their bottom and right, to one size,
// the largest slice's rounded up to a multiple of 4 (the U-Net halves it twice), with the
// volume's smallest standardised value (background) and mask 0.
// The split keeps a scan's slices together where it can: with two or more volumes, volume v is
// test when v % 5 == 4 (every fifth, 20%), or the last one when there are fewer than five; with
// one volume, the last fifth of its slices (rounded up) is the test set, as one block, so no test
// slice sits between two training ones.
import { LesionImages } from "./lesion-phantoms.js";
import { NiftiError, readNifti, type NiftiVolume } from "./nifti.js";

/** An image volume and its mask, as files. */
export interface NiftiPair {
  image: string;
  mask: string;
}

/** One volume's slices, before padding: sizes and standardised intensities, slice after slice. */
interface VolumeSlices {
  count: number;
  height: number;
  width: number;
  images: Float32Array;
  masks: Uint8Array;
  background: number;
}

/**
 * The slices of one image volume and its mask across `axis` (Note [NIfTI segmentation slices]),
 * before padding.
 *
 * @example A 2 x 3 x 4 volume: across axis 2, four 3 x 2 slices; the mask's voxel (1, 2, 3) in the last
 * ```ts
 * const data = Float32Array.from({ length: 24 }, (_, i) => i);
 * const image = { dims: [2, 3, 4], spacing: [1, 1, 1], datatype: "FLOAT32", affine: [], description: "", data };
 * const mask = { ...image, data: Float32Array.from({ length: 24 }, (_, i) => (i === 1 + 2 * (2 + 3 * 3) ? 1 : 0)) };
 * const s = volumeSlices(image, mask, 2);
 * assert.deepEqual([s.count, s.height, s.width], [4, 3, 2]);
 * assert.deepEqual([...s.masks.subarray(18, 24)], [0, 0, 0, 0, 0, 1]);
 * ```
 */
export function volumeSlices(image: NiftiVolume, mask: NiftiVolume, axis: number, what = "the volume"): VolumeSlices {
  if (image.dims.length < 3 || image.dims.slice(3).some((d) => d !== 1)) {
    throw new NiftiError(`lesions: ${what} has dims [${image.dims.join(", ")}]; slices are cut from 3-D volumes (a 4-D series needs one volume picked first)`);
  }
  if (mask.dims.length < 3 || mask.dims.slice(0, 3).some((d, i) => d !== image.dims[i]) || mask.dims.slice(3).some((d) => d !== 1)) {
    throw new NiftiError(`lesions: the mask of ${what} has dims [${mask.dims.join(", ")}], the image [${image.dims.join(", ")}]: a mask must have the image's voxel grid`);
  }
  if (!(axis === 0 || axis === 1 || axis === 2)) throw new RangeError(`lesions: slice axis ${axis} must be 0, 1 or 2`);
  const [X, Y, Z] = image.dims as [number, number, number];
  let mean = 0;
  for (const v of image.data) mean += v;
  mean /= image.data.length;
  let sq = 0, min = Infinity;
  for (const v of image.data) {
    sq += (v - mean) ** 2;
    min = Math.min(min, v);
  }
  const scale = 1 / Math.max(Math.sqrt(sq / image.data.length), 1e-12);
  // (count, height, width) and the voxel index of slice s, row r, column c.
  const [count, height, width, at]: [number, number, number, (s: number, r: number, c: number) => number] =
    axis === 2 ? [Z, Y, X, (s, r, c) => c + X * (r + Y * s)]
      : axis === 1 ? [Y, Z, X, (s, r, c) => c + X * (s + Y * r)]
        : [X, Z, Y, (s, r, c) => s + X * (c + Y * r)];
  const images = new Float32Array(count * height * width);
  const masks = new Uint8Array(count * height * width);
  for (let s = 0; s < count; s++) {
    for (let r = 0; r < height; r++) {
      for (let c = 0; c < width; c++) {
        const v = at(s, r, c), o = (s * height + r) * width + c;
        images[o] = (image.data[v]! - mean) * scale;
        masks[o] = mask.data[v]! > 0 ? 1 : 0;
      }
    }
  }
  return { count, height, width, images, masks, background: (min - mean) * scale };
}

/** Slices of several volumes, padded to one size that is a multiple of 4. */
function stack(parts: readonly VolumeSlices[], height: number, width: number): LesionImages {
  const total = parts.reduce((s, p) => s + p.count, 0);
  const images = new Float32Array(total * height * width);
  const masks = new Uint8Array(total * height * width);
  let k = 0;
  for (const p of parts) {
    for (let s = 0; s < p.count; s++, k++) {
      const base = k * height * width;
      images.fill(p.background, base, base + height * width);
      for (let r = 0; r < p.height; r++) {
        const from = (s * p.height + r) * p.width;
        images.set(p.images.subarray(from, from + p.width), base + r * width);
        masks.set(p.masks.subarray(from, from + p.width), base + r * width);
      }
    }
  }
  return new LesionImages(images, masks, height, width);
}

/** Rounds up to a multiple of 4. */
const ceil4 = (n: number): number => Math.ceil(n / 4) * 4;

/**
 * The slices of NIfTI image volumes and their masks, split into training and test sets
 * (Note [NIfTI segmentation slices]).
 *
 * @param pairs image and mask files (.nii or .nii.gz), one pair per scan
 * @param axis the axis slices are cut across (default 2)
 * @returns the training and test slices, every one padded to one size
 *
 * test/data/nifti.test.ts shows the split on volumes written with writeNifti.
 */
export function loadNiftiSegmentation(pairs: readonly NiftiPair[], axis = 2): { train: LesionImages; test: LesionImages } {
  if (pairs.length === 0) throw new RangeError("lesions: no NIfTI volumes given: pass --image and --mask");
  const parts = pairs.map((p) => volumeSlices(readNifti(p.image), readNifti(p.mask), axis, p.image));
  const height = ceil4(Math.max(...parts.map((p) => p.height)));
  const width = ceil4(Math.max(...parts.map((p) => p.width)));
  if (parts.length === 1) {
    const p = parts[0]!;
    const testCount = Math.ceil(p.count / 5);
    if (p.count - testCount < 1) throw new RangeError(`lesions: ${pairs[0]!.image} has ${p.count} slice(s) across axis ${axis}: too few to hold some out for testing`);
    const cut = (from: number, to: number): VolumeSlices => ({
      ...p, count: to - from,
      images: p.images.subarray(from * p.height * p.width, to * p.height * p.width),
      masks: p.masks.subarray(from * p.height * p.width, to * p.height * p.width),
    });
    return { train: stack([cut(0, p.count - testCount)], height, width), test: stack([cut(p.count - testCount, p.count)], height, width) };
  }
  const isTest = (v: number): boolean => (parts.length < 5 ? v === parts.length - 1 : v % 5 === 4);
  return {
    train: stack(parts.filter((_, v) => !isTest(v)), height, width),
    test: stack(parts.filter((_, v) => isTest(v)), height, width),
  };
}

/**
 * Pairs `--image` and `--mask` lists (comma-separated paths, the same count of each, in order).
 *
 * @example
 * ```ts
 * assert.deepEqual(niftiPairs("a.nii,b.nii", "a-m.nii,b-m.nii"), [{ image: "a.nii", mask: "a-m.nii" }, { image: "b.nii", mask: "b-m.nii" }]);
 * ```
 */
export function niftiPairs(images: string, masks: string): NiftiPair[] {
  const split = (s: string) => s.split(",").map((p) => p.trim()).filter((p) => p.length > 0);
  const i = split(images), m = split(masks);
  if (i.length !== m.length || i.length === 0) {
    throw new RangeError(`lesions: --image lists ${i.length} volume(s) and --mask ${m.length}: give one mask per image, in the same order`);
  }
  return i.map((image, k) => ({ image, mask: m[k]! }));
}
