// The plain-data form of a tensor inside a checkpoint: a dtype tag, a shape and a typed array.
// The checkpoint layer knows nothing about the tensor class; the tensor layer converts to and from
// this. Half-precision dtypes (F16, BF16) travel as their raw 16-bit patterns in a Uint16Array,
// because Node 20 has no Float16Array; see ./half-float.ts for conversions.

import { endianness } from "node:os";

/** Safetensors dtype names that Weft reads and writes (a subset of the format's list). */
export type SafetensorsDtype = "F32" | "F16" | "BF16" | "I32" | "I64";

/** One tensor of a checkpoint. `data` holds product(shape) elements, row-major. */
export interface NamedArray {
  dtype: SafetensorsDtype;
  shape: number[];
  /** F32: Float32Array; F16 and BF16: Uint16Array of raw bits; I32: Int32Array; I64: BigInt64Array. */
  data: Float32Array | Int32Array | Uint16Array | BigInt64Array;
}

/** Bytes per element, and the typed array that holds each dtype. */
export const DTYPE_INFO: Record<SafetensorsDtype, { bytes: number; arrayName: string }> = {
  F32: { bytes: 4, arrayName: "Float32Array" },
  F16: { bytes: 2, arrayName: "Uint16Array" },
  BF16: { bytes: 2, arrayName: "Uint16Array" },
  I32: { bytes: 4, arrayName: "Int32Array" },
  I64: { bytes: 8, arrayName: "BigInt64Array" },
};

export function isSafetensorsDtype(name: unknown): name is SafetensorsDtype {
  return typeof name === "string" && Object.prototype.hasOwnProperty.call(DTYPE_INFO, name);
}

/** The element count of a shape; [] is a scalar with one element. */
export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  return count;
}

/** Whether `shape` is a list of non-negative safe integers. */
export function isValidShape(shape: unknown): shape is number[] {
  return Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/** Whether `data` is the typed array that `dtype` travels in. */
export function dataMatchesDtype(dtype: SafetensorsDtype, data: NamedArray["data"]): boolean {
  return data.constructor.name === DTYPE_INFO[dtype].arrayName;
}

// Safetensors stores little-endian data. Typed arrays use the host's byte order, which is little
// endian on every machine Weft targets (x86-64, arm64); the swaps below keep a big-endian host
// correct instead of silently wrong.
const HOST_IS_LITTLE_ENDIAN = endianness() === "LE";

function swapBytesInPlace(bytes: Uint8Array, elementBytes: number): void {
  for (let start = 0; start < bytes.length; start += elementBytes) {
    bytes.subarray(start, start + elementBytes).reverse();
  }
}

/** The little-endian bytes of `array.data` (a view without copying on little-endian hosts). */
export function littleEndianBytes(array: NamedArray): Uint8Array {
  const view = new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  if (HOST_IS_LITTLE_ENDIAN) return view;
  const copy = view.slice();
  swapBytesInPlace(copy, DTYPE_INFO[array.dtype].bytes);
  return copy;
}

/** A fresh typed array of `dtype` holding the little-endian elements in `bytes` (always copied). */
export function arrayFromLittleEndian(dtype: SafetensorsDtype, bytes: Uint8Array): NamedArray["data"] {
  // Copying (rather than viewing the file buffer) keeps elements aligned whatever the tensor's
  // offset in the file, and lets the file buffer be garbage-collected after loading. (Not
  // bytes.slice(): on a Buffer that is a view, not a copy.)
  const copy = new Uint8Array(bytes);
  if (!HOST_IS_LITTLE_ENDIAN) swapBytesInPlace(copy, DTYPE_INFO[dtype].bytes);
  const count = copy.byteLength / DTYPE_INFO[dtype].bytes;
  switch (dtype) {
    case "F32":
      return new Float32Array(copy.buffer, 0, count);
    case "F16":
    case "BF16":
      return new Uint16Array(copy.buffer, 0, count);
    case "I32":
      return new Int32Array(copy.buffer, 0, count);
    case "I64":
      return new BigInt64Array(copy.buffer, 0, count);
  }
}
