// Buffers the comm thread can work on in place. A Float32Array over a SharedArrayBuffer is seen
// by the main thread and the comm thread alike, so a collective on it moves no bytes between
// threads; any other Float32Array is copied into shared memory and back around each operation.

/** A zero-filled Float32Array backed by a SharedArrayBuffer: the buffer type collectives want. */
export function sharedFloat32Array(length: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(length * 4));
}

export function isShared(a: Float32Array): boolean {
  return a.buffer instanceof SharedArrayBuffer;
}
