// The element-wise loops of the collectives.
//
// Note [native sum kernel]: addInto uses the native backend's AVX2 `axpy` with alpha = 1 when the
// addon is built (about 14x faster than a typed-array loop here: V8 does not vectorise), and a
// plain loop otherwise. Both are bitwise identical: fma(1, x, y) rounds x + y once, and a
// JavaScript float32 add computed in double and rounded to float32 is also the correctly rounded
// sum (double has more than 2·24+2 bits). So replicas using either path stay bitwise equal.
import { nativeKernels } from "../../backend/native/index.js";

const nativeAxpy = nativeKernels.axpy;

/** Below this many elements the call into the addon costs more than the loop. */
const NATIVE_MIN_ELEMS = 64;

function addIntoLoop(dst: Float32Array, src: Float32Array): void {
  const n = dst.length;
  for (let i = 0; i < n; i++) dst[i] += src[i]!;
}

/** dst[i] = dst[i] + src[i] (equal lengths). IEEE addition is commutative, so operand order never changes bits. */
export function addInto(dst: Float32Array, src: Float32Array): void {
  if (nativeAxpy && dst.length >= NATIVE_MIN_ELEMS) nativeAxpy(1, src, dst, dst.length);
  else addIntoLoop(dst, src);
}

/** Whether addInto runs the native kernel (reported by the benchmark). */
export const nativeSumKernel = nativeAxpy !== undefined;

/** buf[i] = buf[i] / divisor (a true division, not a multiplication by 1/divisor, so avg = sum / n exactly rounded). */
export function divideInPlace(buf: Float32Array, divisor: number): void {
  const n = buf.length;
  for (let i = 0; i < n; i++) buf[i] = buf[i]! / divisor;
}
