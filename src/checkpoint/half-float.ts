// Conversions between float32 and the two 16-bit float formats a checkpoint may hold, which travel
// as raw bit patterns in Uint16Array (Note in ./named-array.ts). Rounding is to nearest, ties to
// even, as in PyTorch's tensor.half() and tensor.bfloat16(); NaN stays NaN, overflow becomes
// infinity, and tiny F16 values become subnormals (then zero).

import type { NamedArray } from "./named-array.js";

/** float32 -> bfloat16 bits (the top 16 bits of the float32, rounded). */
export function f32ToBf16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) {
    const u = bits[i];
    if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) {
      out[i] = (u >>> 16) | 0x40; // keep NaN a (quiet) NaN even if its payload sat in the low bits
    } else {
      out[i] = (u + 0x7fff + ((u >>> 16) & 1)) >>> 16; // round half to even on the dropped 16 bits
    }
  }
  return out;
}

/** bfloat16 bits -> float32 (exact: bfloat16 is a truncated float32). */
export function bf16ToF32(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
  return new Float32Array(out.buffer);
}

/** float32 -> IEEE half bits. */
export function f32ToF16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) out[i] = f32BitsToF16Bits(bits[i]);
  return out;
}

function f32BitsToF16Bits(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const exponent = (u >>> 23) & 0xff;
  const mantissa = u & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0); // infinity or NaN
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00; // too large: infinity
  if (halfExponent <= 0) {
    // Subnormal half: value / 2^-24 = (1.mantissa) * 2^(halfExponent + 10), so drop 14 - halfExponent bits.
    if (halfExponent < -10) return sign; // below half of the smallest subnormal: zero
    return sign | roundShift(mantissa | 0x800000, 14 - halfExponent);
  }
  // Normal half: keep 10 of the 23 mantissa bits; a carry out of the mantissa correctly bumps the
  // exponent (and 0x7bff rounding up becomes 0x7c00, infinity).
  return sign | roundShift((halfExponent << 23) | mantissa, 13);
}

/** value >> shift, rounded to nearest with ties to even. */
function roundShift(value: number, shift: number): number {
  const kept = value >>> shift;
  const dropped = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return dropped > half || (dropped === half && (kept & 1) === 1) ? kept + 1 : kept;
}

/** IEEE half bits -> float32 (exact). */
export function f16ToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >>> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) out[i] = sign * mantissa * 2 ** -24;
    else if (exponent === 0x1f) out[i] = mantissa !== 0 ? NaN : sign * Infinity;
    else out[i] = sign * (1024 + mantissa) * 2 ** (exponent - 25);
  }
  return out;
}

/**
 * The values of a floating-point checkpoint tensor as float32 (F32 data is returned as is, not
 * copied). Integer tensors are refused: their values are not meant to become floats silently.
 *
 * @example
 * ```ts
 * const bits = f32ToBf16(new Float32Array([1.5, -2]));
 * assert.deepEqual(toFloat32({ dtype: "BF16", shape: [2], data: bits }), new Float32Array([1.5, -2]));
 * ```
 */
export function toFloat32(array: NamedArray): Float32Array {
  switch (array.dtype) {
    case "F32":
      return array.data as Float32Array;
    case "F16":
      return f16ToF32(array.data as Uint16Array);
    case "BF16":
      return bf16ToF32(array.data as Uint16Array);
    default:
      throw new TypeError(`toFloat32 converts F32, F16 and BF16 tensors, not ${array.dtype}: read its .data directly`);
  }
}
