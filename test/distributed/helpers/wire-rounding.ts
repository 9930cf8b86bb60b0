// Rounding to the wire element types, written from their definitions in float64 arithmetic (not
// from the bit tricks of src/distributed/compression/ or the native kernels), so tests can check those against
// it: round to nearest with ties to even, at 8 significant bits with float32's exponent range
// (bf16) or 11 significant bits, exponents down to -14 (subnormals below) and 65504 as the
// largest finite value (f16). Too large becomes ±Inf; zeros, infinities and NaN stay as they are.

export type Wire16 = "bf16" | "f16";

interface Format {
  /** Fraction bits (significant bits - 1). */
  fractionBits: number;
  /** Exponent of the smallest normal number: subnormals share its spacing. */
  minExp: number;
  maxFinite: number;
}

const FORMATS: Record<Wire16, Format> = {
  bf16: { fractionBits: 7, minExp: -126, maxFinite: (2 - 2 ** -7) * 2 ** 127 },
  f16: { fractionBits: 10, minExp: -14, maxFinite: 65504 },
};

/** `x` rounded to the wire type (as a number; every result is exact in float32). */
export function roundToWire(x: number, wire: Wire16): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const f = FORMATS[wire];
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  const spacing = 2 ** (Math.max(e, f.minExp) - f.fractionBits);
  const q = a / spacing; // exact: a power-of-two scaling of a float32 value in float64
  let k = Math.floor(q);
  const rest = q - k;
  if (rest > 0.5 || (rest === 0.5 && k % 2 === 1)) k++;
  const r = k * spacing;
  return r > f.maxFinite ? sign * Infinity : sign * r;
}

/** Unit roundoff of the wire type: the largest relative error of rounding a normal number. */
export function wireUnitRoundoff(wire: Wire16): number {
  return 2 ** -(FORMATS[wire].fractionBits + 1);
}

/** Half the spacing of the subnormals: the largest absolute error of rounding a tiny number. */
export function wireTinyError(wire: Wire16): number {
  return 2 ** (FORMATS[wire].minExp - FORMATS[wire].fractionBits - 1);
}
