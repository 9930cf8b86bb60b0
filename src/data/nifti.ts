// NIfTI volumes (the format of most research MRI and CT: https://nifti.nimh.nih.gov/nifti-1) read
// into float32 voxels, and written back for masks and predictions. Reading goes through the
// `nifti-reader-js` package (NIfTI-1 and NIfTI-2, either byte order, gzipped .nii.gz or not);
// writing is a plain NIfTI-1 single file (.nii) of our own, little-endian, float32 or uint8.
//
// Note [NIfTI voxel order]
// A NIfTI file stores voxels with the first axis (i, "x") varying fastest: voxel (i, j, k) of a
// volume of dims (X, Y, Z) is at i + X (j + Y k). NiftiVolume.data keeps that order. A slice at
// k = const is then a Y x X image, row j, column i. The file's own datatype (int16, uint8, ...)
// is converted to float32 and the header's scaling applied: value = raw * scl_slope + scl_inter
// when scl_slope is neither 0 nor NaN (the standard's "no scaling"), else value = raw.
import { readFileSync, writeFileSync } from "node:fs";
import * as nifti from "nifti-reader-js";

/** A volume read from a NIfTI file. */
export interface NiftiVolume {
  /** Size of each axis (dim[1..dim[0]] of the header): [X, Y, Z] for a 3-D volume. */
  readonly dims: readonly number[];
  /** Voxel size along each axis (pixdim[1..dim[0]]), in the file's spatial unit (mm for most). */
  readonly spacing: readonly number[];
  /** The file's voxel type, as the standard names it ("INT16", "FLOAT32", ...). */
  readonly datatype: string;
  /** The header's 4 x 4 voxel-to-world matrix (sform if set, else qform), as nifti-reader-js computes it. */
  readonly affine: readonly (readonly number[])[];
  /** The header's description field. */
  readonly description: string;
  /** The voxels, scaled, first axis fastest (Note [NIfTI voxel order]). */
  readonly data: Float32Array;
}

/** The NIfTI datatype codes this reader converts, with their names and readers. */
const VOXEL_TYPES: Readonly<Record<number, { name: string; bytes: number; read(view: DataView, at: number, little: boolean): number }>> = {
  2: { name: "UINT8", bytes: 1, read: (v, at) => v.getUint8(at) },
  4: { name: "INT16", bytes: 2, read: (v, at, le) => v.getInt16(at, le) },
  8: { name: "INT32", bytes: 4, read: (v, at, le) => v.getInt32(at, le) },
  16: { name: "FLOAT32", bytes: 4, read: (v, at, le) => v.getFloat32(at, le) },
  64: { name: "FLOAT64", bytes: 8, read: (v, at, le) => v.getFloat64(at, le) },
  256: { name: "INT8", bytes: 1, read: (v, at) => v.getInt8(at) },
  512: { name: "UINT16", bytes: 2, read: (v, at, le) => v.getUint16(at, le) },
  768: { name: "UINT32", bytes: 4, read: (v, at, le) => v.getUint32(at, le) },
};

/** Thrown when a file is not a NIfTI volume this reader can convert. */
export class NiftiError extends Error {
  override readonly name = "NiftiError";
}

/**
 * Parses the bytes of a NIfTI-1 or NIfTI-2 single file (.nii, or .nii.gz gzipped).
 *
 * @param bytes the whole file
 * @param what names the file in error messages
 * @returns the volume, its voxels as float32 (Note [NIfTI voxel order])
 */
export function parseNifti(bytes: Uint8Array, what = "the data"): NiftiVolume {
  let buffer: ArrayBuffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  if (nifti.isCompressed(buffer)) buffer = nifti.decompress(buffer) as ArrayBuffer;
  if (!nifti.isNIFTI(buffer)) {
    throw new NiftiError(`reading NIfTI from ${what}: no NIfTI-1 or NIfTI-2 header (a .hdr/.img pair needs its .img beside it; DICOM series must be converted first, e.g. with dcm2niix)`);
  }
  const header = nifti.readHeader(buffer);
  const rank = header.dims[0]!;
  const dims = header.dims.slice(1, 1 + rank);
  const type = VOXEL_TYPES[header.datatypeCode];
  if (!type) {
    throw new NiftiError(`reading NIfTI from ${what}: voxel type ${header.getDatatypeCodeString(header.datatypeCode)} (code ${header.datatypeCode}) is not converted; ` +
      `supported: ${Object.values(VOXEL_TYPES).map((t) => t.name).join(", ")}`);
  }
  const count = dims.reduce((a, b) => a * b, 1);
  const image = nifti.readImage(header, buffer);
  if (image.byteLength < count * type.bytes) {
    throw new NiftiError(`reading NIfTI from ${what}: dims ${dims.join(" x ")} of ${type.name} need ${count * type.bytes} bytes of voxels, the file holds ${image.byteLength}: it is cut short`);
  }
  const view = new DataView(image);
  const slope = header.scl_slope, inter = header.scl_inter;
  const scaled = Number.isFinite(slope) && slope !== 0;
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const raw = type.read(view, i * type.bytes, header.littleEndian);
    data[i] = scaled ? raw * slope + (Number.isFinite(inter) ? inter : 0) : raw;
  }
  return {
    dims, spacing: header.pixDims.slice(1, 1 + rank), datatype: type.name,
    affine: header.affine.map((row) => [...row]), description: header.description, data,
  };
}

/**
 * Reads a NIfTI volume from a .nii or .nii.gz file (Note [NIfTI voxel order]).
 *
 * @example A volume written and read back
 * ```ts
 * writeNifti("mask.nii", { dims: [3, 2, 1], spacing: [1, 1, 2.5], data: Uint8Array.of(0, 1, 1, 0, 0, 1) });
 * const v = readNifti("mask.nii");
 * assert.deepEqual([v.dims, v.spacing, v.datatype, [...v.data]], [[3, 2, 1], [1, 1, 2.5], "UINT8", [0, 1, 1, 0, 0, 1]]);
 * ```
 */
export function readNifti(path: string): NiftiVolume {
  return parseNifti(readFileSync(path), path);
}

/** What writeNifti writes: dims of up to 7 axes, voxel sizes, and the voxels first axis fastest. */
export interface NiftiWrite {
  dims: readonly number[];
  /** Voxel sizes in mm (default 1 each). */
  spacing?: readonly number[];
  /** Float32Array is written as FLOAT32, Uint8Array as UINT8 (for masks). */
  data: Float32Array | Uint8Array;
  description?: string;
}

/** The NIfTI-1 header's size, and where the voxels start (the header and a 4-byte extension flag). */
const NIFTI1_HEADER_BYTES = 348;
const NIFTI1_VOX_OFFSET = 352;

/**
 * Writes a NIfTI-1 single file (.nii, little-endian): a scan, a mask or a prediction, for any
 * NIfTI viewer (ITK-SNAP, FSLeyes, 3D Slicer). The affine is the voxel sizes on the diagonal
 * (sform code 1, "scanner"), the origin at voxel (0, 0, 0).
 */
export function writeNifti(path: string, volume: NiftiWrite): void {
  const { dims, data } = volume;
  const spacing = volume.spacing ?? dims.map(() => 1);
  const count = dims.reduce((a, b) => a * b, 1);
  if (dims.length < 1 || dims.length > 7 || !dims.every((d) => Number.isInteger(d) && d >= 1 && d <= 32767)) {
    throw new NiftiError(`writeNifti ${path}: dims [${dims.join(", ")}] must be 1 to 7 integers in 1..32767`);
  }
  if (data.length !== count || spacing.length !== dims.length) {
    throw new NiftiError(`writeNifti ${path}: dims [${dims.join(", ")}] hold ${count} voxels and need ${dims.length} spacings; got ${data.length} voxels and ${spacing.length} spacings`);
  }
  const float = data instanceof Float32Array;
  const out = Buffer.alloc(NIFTI1_VOX_OFFSET + data.byteLength);
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  v.setInt32(0, NIFTI1_HEADER_BYTES, true); // sizeof_hdr
  v.setInt16(40, dims.length, true); // dim[0]
  dims.forEach((d, i) => v.setInt16(42 + 2 * i, d, true));
  for (let i = dims.length; i < 7; i++) v.setInt16(42 + 2 * i, 1, true);
  v.setInt16(70, float ? 16 : 2, true); // datatype: FLOAT32 or UINT8
  v.setInt16(72, float ? 32 : 8, true); // bitpix
  v.setFloat32(76, 1, true); // pixdim[0]: qfac
  spacing.forEach((s, i) => v.setFloat32(80 + 4 * i, s, true));
  v.setFloat32(108, NIFTI1_VOX_OFFSET, true); // vox_offset
  v.setFloat32(112, 1, true); // scl_slope
  v.setFloat32(116, 0, true); // scl_inter
  v.setUint8(123, 2); // xyzt_units: mm
  out.write((volume.description ?? "weft").slice(0, 79), 148, "latin1");
  v.setInt16(254, 1, true); // sform_code: scanner
  // srow_x, srow_y, srow_z: the voxel sizes on the diagonal.
  for (let r = 0; r < 3; r++) v.setFloat32(280 + 16 * r + 4 * r, spacing[r] ?? 1, true);
  out.write("n+1\0", 344, "latin1");
  if (float) for (let i = 0; i < count; i++) v.setFloat32(NIFTI1_VOX_OFFSET + 4 * i, data[i]!, true);
  else out.set(data, NIFTI1_VOX_OFFSET);
  writeFileSync(path, out);
}
