// The wire conversions in JavaScript, element by element: the fallback when the native addon is
// not built, and the reference the native kernels are tested against. Same rounding, same bits
// (Note [wire rounding] in native/kernels/wire-convert/wire-convert.h): bits are read and written
// through Uint32Array views, because storing a NaN through a Float32Array may change its payload.
// The checkpoint converters (src/checkpoint/half-float.ts) round the same way but allocate their
// output and give every f16 NaN one pattern, where F16C, and so every rank here, keeps the
// payload's top bits.
import type { PackedWireDtype } from "./wire-dtype.js";

function bitsView(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** float32 bits -> bf16: round to nearest even; a NaN gets its quiet bit (so it cannot become Inf). */
export function bf16FromF32Bits(b: number): number {
  if ((b & 0x7fffffff) > 0x7f800000) return (b | 0x00400000) >>> 16;
  return ((b >>> 0) + 0x7fff + ((b >>> 16) & 1)) >>> 16;
}

export function f32BitsFromBf16(h: number): number {
  return (h << 16) >>> 0;
}

/** float32 bits -> f16: round to nearest even, overflow to ±Inf, subnormals kept, NaN quieted. */
export function f16FromF32Bits(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const a = b & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00 | ((a >>> 13) & 0x3ff);
  if (a >= 0x477ff000) return sign | 0x7c00; // 65520, halfway from 65504 to 2^16, and above
  if (a >= 0x38800000) {
    const m = a - 0x38000000; // rebias 127 -> 15
    return sign | ((m + 0xfff + ((m >>> 13) & 1)) >>> 13);
  }
  const shift = 126 - (a >>> 23);
  if (shift > 24) return sign; // below 2^-25
  const mant = (a & 0x7fffff) | 0x800000;
  let h = mant >>> shift;
  const rest = mant & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && (h & 1) !== 0)) h++;
  return sign | h;
}

const scratchF32 = new Float32Array(1);
const scratchBits = new Uint32Array(scratchF32.buffer);

export function f32BitsFromF16(h: number): number {
  const sign = (h & 0x8000) << 16;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return (sign | 0x7f800000 | (m << 13) | (m !== 0 ? 0x00400000 : 0)) >>> 0;
  if (e !== 0) return (sign | ((e + 112) << 23) | (m << 13)) >>> 0;
  scratchF32[0] = m * 2 ** -24; // exact in float32
  return (sign | scratchBits[0]!) >>> 0;
}

const packOne = (kind: PackedWireDtype): ((bits: number) => number) => (kind === "bf16" ? bf16FromF32Bits : f16FromF32Bits);
const unpackOne = (kind: PackedWireDtype): ((h: number) => number) => (kind === "bf16" ? f32BitsFromBf16 : f32BitsFromF16);

export function packJs(kind: PackedWireDtype, src: Float32Array, dst: Uint16Array, n: number): void {
  const bits = bitsView(src);
  const f = packOne(kind);
  for (let i = 0; i < n; i++) dst[i] = f(bits[i]!);
}

export function unpackJs(kind: PackedWireDtype, src: Uint16Array, dst: Float32Array, n: number): void {
  const out = bitsView(dst);
  const f = unpackOne(kind);
  for (let i = 0; i < n; i++) out[i] = f(src[i]!);
}

/** dst[i] += value of src[i]: the double sum of two floats rounded to float32 is the float32 sum. */
export function unpackAddJs(kind: PackedWireDtype, src: Uint16Array, dst: Float32Array, n: number): void {
  const f = unpackOne(kind);
  for (let i = 0; i < n; i++) {
    scratchBits[0] = f(src[i]!);
    dst[i] = dst[i]! + scratchF32[0]!;
  }
}
