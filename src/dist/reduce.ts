// The element-wise loops of the collectives. Plain typed-array loops: V8 compiles them to scalar
// SSE code that runs near memory speed for these sizes, well above the loopback TCP stream the
// collectives wait on. A native (AVX2) kernel can replace them behind the same signatures.

/** dst[i] = dst[i] + src[i]. Addition is commutative in IEEE 754, so operand order within one add never changes bits. */
export function addInto(dst: Float32Array, src: Float32Array): void {
  const n = dst.length;
  for (let i = 0; i < n; i++) dst[i] += src[i]!;
}

/** buf[i] = buf[i] / divisor (a true division, not a multiplication by 1/divisor, so avg = sum / n exactly rounded). */
export function divideInPlace(buf: Float32Array, divisor: number): void {
  const n = buf.length;
  for (let i = 0; i < n; i++) buf[i] = buf[i]! / divisor;
}

/** The bytes of a float32 view (same memory). */
export function bytesOf(view: Float32Array): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}
