// The element type of all-reduce data on the wire. Buffers are float32 at both ends; "bf16" and
// "f16" halve the bytes a ring all-reduce sends over TCP at the price of rounding partial sums
// (Note [compressed ring] in collectives/ring.ts). The code of each type is what Data frames carry
// in their flag bits 0-1 (frame.ts, WIRE_FLAG_MASK) and what the native conversions take.

/** How all-reduce elements travel: float32 as they are (default), or rounded to bf16 or f16. */
export type WireDtype = "f32" | "bf16" | "f16";

/** A 16-bit wire type (one that needs packing). */
export type PackedWireDtype = Exclude<WireDtype, "f32">;

/** Every wire type, at the index of its frame flag code. */
export const WIRE_DTYPES: readonly WireDtype[] = ["f32", "bf16", "f16"];

export function isWireDtype(x: unknown): x is WireDtype {
  return typeof x === "string" && (WIRE_DTYPES as readonly string[]).includes(x);
}

/** Returns `x` as a wire type, or throws a RangeError naming `what` (an option or a flag). */
export function checkWireDtype(x: unknown, what: string): WireDtype {
  if (!isWireDtype(x)) throw new RangeError(`${what} must be "f32", "bf16" or "f16", got ${JSON.stringify(x)}`);
  return x;
}

/** The frame flag value (0 f32, 1 bf16, 2 f16). */
export function wireCode(d: WireDtype): number {
  return WIRE_DTYPES.indexOf(d);
}

/** The wire type of frame flag value `code`, or undefined for a value no type has. */
export function wireOfCode(code: number): WireDtype | undefined {
  return WIRE_DTYPES[code];
}

/** Bytes per element on the wire. */
export function wireBytes(d: WireDtype): 4 | 2 {
  return d === "f32" ? 4 : 2;
}
