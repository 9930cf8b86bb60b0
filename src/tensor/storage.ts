// Buffers for kernel outputs. `new Float32Array(n)` zero-fills, which for a CNN step's activations
// and gradients costs as much as a small kernel; outputs that a kernel overwrites entirely
// (Note [kernel conventions] in src/backend/backend.ts) skip it.

/** n float32 elements with unspecified contents: only for a buffer a kernel will overwrite entirely. */
export function uninitialized(n: number): Float32Array {
  return new Float32Array(Buffer.allocUnsafeSlow(n * 4).buffer, 0, n);
}
