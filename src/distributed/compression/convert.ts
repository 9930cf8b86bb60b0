// Packing float32 into 16-bit wire elements and back, for the compressed ring (collectives/ring.ts).
//
// Note [native wire kernels]: the native addon's packF32 / unpackF32 / unpackAddF32
// (native/kernels/wire-convert) run when it is built, the loops of convert-js.ts otherwise. A
// JavaScript loop converts about 0.5 G elements/s, slower than the loopback link it would save
// (docs/distributed.md, Measurements); the AVX2 kernels are what make compression pay. Both give
// the same bits (Note [wire rounding]), so ranks with and without the addon stay identical.
import { distAddon, type WireAddon } from "../base/native-dist.js";
import { packJs, unpackAddJs, unpackJs } from "./convert-js.js";
import { wireCode, type PackedWireDtype } from "./wire-dtype.js";

/** The native conversions, or null when the addon is missing. */
export const wireAddon: WireAddon | null = distAddon;

/** Below this many elements the call into the addon costs more than the loop. */
const NATIVE_MIN_ELEMS = 64;

function lengths(op: string, a: { length: number }, b: { length: number }): number {
  if (a.length !== b.length) throw new RangeError(`${op}: source has ${a.length} elements, destination ${b.length}`);
  return a.length;
}

/** dst[i] = src[i] rounded to the wire type (equal lengths). */
export function packInto(kind: PackedWireDtype, src: Float32Array, dst: Uint16Array): void {
  const n = lengths("packInto", src, dst);
  if (wireAddon && n >= NATIVE_MIN_ELEMS) wireAddon.packF32(src, dst, n, wireCode(kind));
  else packJs(kind, src, dst, n);
}

/** dst[i] = the float32 value of wire element src[i] (exact; equal lengths). */
export function unpackInto(kind: PackedWireDtype, src: Uint16Array, dst: Float32Array): void {
  const n = lengths("unpackInto", src, dst);
  if (wireAddon && n >= NATIVE_MIN_ELEMS) wireAddon.unpackF32(src, dst, n, wireCode(kind));
  else unpackJs(kind, src, dst, n);
}

/** dst[i] = dst[i] + value of src[i], rounded once to float32 (equal lengths). */
export function unpackAddInto(kind: PackedWireDtype, src: Uint16Array, dst: Float32Array): void {
  const n = lengths("unpackAddInto", src, dst);
  if (wireAddon && n >= NATIVE_MIN_ELEMS) wireAddon.unpackAddF32(src, dst, n, wireCode(kind));
  else unpackAddJs(kind, src, dst, n);
}
