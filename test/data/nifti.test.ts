// The NIfTI reader and writer (src/data/nifti.ts) and the slices the lesions recipe trains on
// (src/data/nifti-slices.ts). The reader is checked on a real scan, nibabel's test file
// anatomical.nii (test/fixtures/README.md), against the facts nibabel's data listing gives for it
// (a big-endian NIfTI-1 single file of int16 voxels, 33 x 41 x 25 at 2 mm) and against our own
// reading of its 348-byte header and of its voxel bytes, done here with nothing but a DataView.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { NiftiError, parseNifti, readNifti, writeNifti } from "../../src/data/nifti.js";
import { loadNiftiSegmentation, niftiPairs, volumeSlices } from "../../src/data/nifti-slices.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const fixture = join(root, "test/fixtures/anatomical.nii");

/** The NIfTI-1 header fields we check, read straight from the bytes (offsets from the standard's nifti1.h). */
function ownHeader(bytes: Buffer) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // sizeof_hdr is 348 in the file's own byte order: that is how a reader tells the order.
  const little = view.getInt32(0, true) === 348;
  assert.equal(view.getInt32(0, little), 348);
  const dim = Array.from({ length: 8 }, (_, i) => view.getInt16(40 + 2 * i, little));
  const pixdim = Array.from({ length: 8 }, (_, i) => view.getFloat32(76 + 4 * i, little));
  return {
    little, dim, pixdim,
    datatype: view.getInt16(70, little), bitpix: view.getInt16(72, little),
    voxOffset: view.getFloat32(108, little), sclSlope: view.getFloat32(112, little), sclInter: view.getFloat32(116, little),
    qformCode: view.getInt16(252, little), sformCode: view.getInt16(254, little),
    magic: bytes.toString("latin1", 344, 347),
    view,
  };
}

test("anatomical.nii: the header as nibabel documents it and as we read it ourselves", () => {
  const h = ownHeader(readFileSync(fixture));
  // nibabel: big-endian, int16, 33 x 41 x 25 at 2 mm, qform and sform code 2 (aligned), qfac -1.
  assert.equal(h.little, false);
  assert.deepEqual(h.dim.slice(0, 4), [3, 33, 41, 25]);
  assert.deepEqual([h.datatype, h.bitpix], [4, 16]); // NIFTI_TYPE_INT16
  assert.deepEqual(h.pixdim.slice(0, 4), [-1, 2, 2, 2]);
  assert.deepEqual([h.qformCode, h.sformCode, h.magic, h.voxOffset], [2, 2, "n+1", 352]);
  const v = readNifti(fixture);
  assert.deepEqual(v.dims, [33, 41, 25]);
  assert.deepEqual(v.spacing, [2, 2, 2]);
  assert.equal(v.datatype, "INT16");
  assert.equal(v.description, "spm - 3D normalized");
  // The sform rows of the header, bytes 280..327: x is flipped (LAS), 2 mm voxels.
  const srow = Array.from({ length: 12 }, (_, i) => h.view.getFloat32(280 + 4 * i, false));
  assert.deepEqual(v.affine.slice(0, 3).map((r) => [...r]), [srow.slice(0, 4), srow.slice(4, 8), srow.slice(8, 12)]);
  assert.deepEqual(srow, [-2, 0, 0, 32, 0, 2, 0, -40, 0, 0, 2, -16]);
});

test("anatomical.nii: every voxel equals the big-endian int16 at its place in the file, first axis fastest", () => {
  const bytes = readFileSync(fixture);
  const h = ownHeader(bytes);
  const v = readNifti(fixture);
  assert.equal(v.data.length, 33 * 41 * 25);
  // slope 1, intercept 0: no scaling.
  assert.deepEqual([h.sclSlope, h.sclInter], [1, 0]);
  const at = (i: number, j: number, k: number) => h.view.getInt16(352 + 2 * (i + 33 * (j + 41 * k)), false);
  // The first two voxels, read off a hex dump of the file: bytes 0x160.. are 29 d8 28 df.
  assert.deepEqual([v.data[0], v.data[1]], [0x29d8, 0x28df]);
  assert.deepEqual([v.data[0], v.data[1]], [10712, 10463]);
  for (const [i, j, k] of [[0, 0, 0], [32, 0, 0], [0, 40, 0], [0, 0, 24], [16, 20, 12], [32, 40, 24], [7, 31, 3]] as const) {
    assert.equal(v.data[i + 33 * (j + 41 * k)], at(i, j, k), `voxel (${i}, ${j}, ${k})`);
  }
  let min = Infinity, max = -Infinity;
  for (let n = 0; n < v.data.length; n++) {
    const raw = h.view.getInt16(352 + 2 * n, false);
    assert.equal(v.data[n], raw);
    min = Math.min(min, raw);
    max = Math.max(max, raw);
  }
  assert.deepEqual([Math.min(...v.data), Math.max(...v.data)], [min, max]);
});

test("written volumes read back exactly: float32 and uint8, plain and gzipped, with scaling honoured", () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-nifti-"));
  try {
    const data = Float32Array.from({ length: 4 * 3 * 2 }, (_, i) => i * 0.5 - 3);
    writeNifti(join(dir, "v.nii"), { dims: [4, 3, 2], spacing: [0.5, 0.75, 3], data });
    const v = readNifti(join(dir, "v.nii"));
    assert.deepEqual([v.dims, v.spacing, v.datatype], [[4, 3, 2], [0.5, 0.75, 3], "FLOAT32"]);
    assert.deepEqual([...v.data], [...data]);
    // Our own reading of what we wrote: little-endian, vox_offset 352, FLOAT32.
    const h = ownHeader(readFileSync(join(dir, "v.nii")));
    assert.deepEqual([h.little, h.datatype, h.bitpix, h.voxOffset, h.magic], [true, 16, 32, 352, "n+1"]);
    // Gzipped, as .nii.gz files are.
    writeFileSync(join(dir, "v.nii.gz"), gzipSync(readFileSync(join(dir, "v.nii"))));
    assert.deepEqual([...readNifti(join(dir, "v.nii.gz")).data], [...data]);
    // A uint8 mask.
    writeNifti(join(dir, "m.nii"), { dims: [2, 2, 1], data: Uint8Array.of(0, 1, 2, 0) });
    assert.deepEqual([readNifti(join(dir, "m.nii")).datatype, [...readNifti(join(dir, "m.nii")).data]], ["UINT8", [0, 1, 2, 0]]);
    // scl_slope 2, scl_inter 10 (bytes 112 and 116): each value becomes raw * 2 + 10.
    const scaled = readFileSync(join(dir, "m.nii"));
    scaled.writeFloatLE(2, 112);
    scaled.writeFloatLE(10, 116);
    assert.deepEqual([...parseNifti(scaled).data], [10, 12, 14, 10]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("files that are not NIfTI, or are cut short, are refused with what went wrong", () => {
  assert.throws(() => parseNifti(new Uint8Array(400), "x.nii"), (e: Error) => e instanceof NiftiError && /reading NIfTI from x.nii: no NIfTI-1 or NIfTI-2 header/.test(e.message));
  const cut = readFileSync(fixture).subarray(0, 1000);
  assert.throws(() => parseNifti(cut, "cut.nii"), /dims 33 x 41 x 25 of INT16 need 67650 bytes of voxels, the file holds 648: it is cut short/);
  assert.throws(() => writeNifti(join(tmpdir(), "never.nii"), { dims: [2, 2], data: new Float32Array(3) }), /hold 4 voxels/);
});

test("slices across each axis: sizes and voxel places (Note [NIfTI segmentation slices])", () => {
  // dims (X, Y, Z) = (2, 3, 4); voxel (i, j, k) holds 100 i + 10 j + k, so each slice is readable.
  const dims = [2, 3, 4];
  const data = new Float32Array(24);
  for (let k = 0; k < 4; k++) for (let j = 0; j < 3; j++) for (let i = 0; i < 2; i++) data[i + 2 * (j + 3 * k)] = 100 * i + 10 * j + k;
  const vol = { dims, spacing: [1, 1, 1], datatype: "FLOAT32", affine: [], description: "", data };
  const mask = { ...vol, data: data.map((v) => (v === 111 ? 1 : 0)) };
  // Undo the standardisation to read the voxel values back.
  let mean = 0;
  for (const v of data) mean += v;
  mean /= 24;
  const std = Math.sqrt(data.reduce((s, v) => s + (v - mean) ** 2, 0) / 24);
  const raw = (x: number) => Math.round(x * std + mean);
  const z = volumeSlices(vol, mask, 2);
  assert.deepEqual([z.count, z.height, z.width], [4, 3, 2]);
  // Slice k = 1: rows j, columns i.
  assert.deepEqual(Array.from(z.images.subarray(6, 12), raw), [1, 101, 11, 111, 21, 121]);
  assert.deepEqual([...z.masks.subarray(6, 12)], [0, 0, 0, 1, 0, 0]);
  const y = volumeSlices(vol, mask, 1);
  assert.deepEqual([y.count, y.height, y.width], [3, 4, 2]);
  // Slice j = 1: rows k, columns i.
  assert.deepEqual(Array.from(y.images.subarray(8, 16), raw), [10, 110, 11, 111, 12, 112, 13, 113]);
  const x = volumeSlices(vol, mask, 0);
  assert.deepEqual([x.count, x.height, x.width], [2, 4, 3]);
  // Slice i = 1: rows k, columns j.
  assert.deepEqual(Array.from(x.images.subarray(12, 24), raw), [100, 110, 120, 101, 111, 121, 102, 112, 122, 103, 113, 123]);
  // Standardised: mean 0, standard deviation 1 over the volume.
  const m = z.images.reduce((s, v) => s + v, 0) / 24;
  assert.ok(Math.abs(m) < 1e-6);
  assert.throws(() => volumeSlices(vol, { ...mask, dims: [2, 3, 5] }, 2), /the mask of the volume has dims \[2, 3, 5\], the image \[2, 3, 4\]/);
});

test("the split keeps a scan's slices together: one volume's last fifth, else every fifth volume or the last", () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-nifti-split-"));
  try {
    // Volume v: dims (5, 6, 7 + v), every voxel v (so a slice tells which volume it came from), mask 0.
    const pairs = Array.from({ length: 6 }, (_, v) => {
      const dims = [5, 6, 7 + v];
      const n = 5 * 6 * (7 + v);
      const data = Float32Array.from({ length: n }, (_, i) => (i % 2 === 0 ? v : v + 1));
      writeNifti(join(dir, `s${v}.nii`), { dims, data });
      writeNifti(join(dir, `m${v}.nii`), { dims, data: new Uint8Array(n) });
      return { image: join(dir, `s${v}.nii`), mask: join(dir, `m${v}.nii`) };
    });
    // One volume of 7 slices: the last ceil(7 / 5) = 2 are the test set; 6 x 5 slices padded to 8 x 8.
    const one = loadNiftiSegmentation(pairs.slice(0, 1));
    assert.deepEqual([one.train.length, one.test.length, one.train.height, one.train.width], [5, 2, 8, 8]);
    // Two volumes: the last is the test set.
    const two = loadNiftiSegmentation(pairs.slice(0, 2));
    assert.deepEqual([two.train.length, two.test.length], [7, 8]);
    // Six volumes: volume 4 (11 slices) is the test set, the others (7 + 8 + 9 + 10 + 12) train.
    const six = loadNiftiSegmentation(pairs);
    assert.deepEqual([six.train.length, six.test.length], [46, 11]);
    assert.deepEqual(niftiPairs(pairs.map((p) => p.image).join(","), pairs.map((p) => p.mask).join(",")), pairs);
    assert.throws(() => niftiPairs("a.nii,b.nii", "a-mask.nii"), /--image lists 2 volume\(s\) and --mask 1: give one mask per image/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
