// bfloat16 rounding for the reference GEMM's bf16 mode: the top 16 bits of a float32, rounded
// to nearest with ties to even, a NaN kept a NaN (its quiet bit set), as the native kernels round
// (Note [wire rounding] in native/kernels/wire-convert/wire-convert.h).

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * The float32 value of x rounded to bfloat16 (8 significant bits).
 *
 * @example the neighbours of 1 in bf16 are 2^-7 apart; a tie goes to the even one
 * ```ts
 * assert.equal(roundToBf16(1 + 2 ** -9), 1);
 * assert.equal(roundToBf16(1 + 3 * 2 ** -8), 1 + 2 ** -6);
 * assert.equal(roundToBf16(-2.5), -2.5);
 * assert.ok(Number.isNaN(roundToBf16(NaN)));
 * ```
 */
export function roundToBf16(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  if ((bits & 0x7fffffff) > 0x7f800000) u32[0] = (bits | 0x00400000) & 0xffff0000;
  else u32[0] = ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) << 16;
  return f32[0]!;
}
