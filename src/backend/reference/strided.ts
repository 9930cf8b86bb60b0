// Walks a contiguous row-major `shape` and yields, for each element in order, the element offset it
// has in a strided view. Used by binary, copyStrided and accumulateStrided, which all pair a
// contiguous side with one or two strided sides.

/** Calls visit(i, offsetA, offsetB) for each flat index i of `shape`, with the offsets of two strided views. */
export function forEachStrided2(
  shape: Int32Array,
  aOffset: number, aStrides: Int32Array,
  bOffset: number, bStrides: Int32Array,
  visit: (i: number, a: number, b: number) => void,
): void {
  const rank = shape.length;
  let total = 1;
  for (let d = 0; d < rank; d++) total *= shape[d];
  if (total === 0) return;
  const idx = new Int32Array(rank);
  let a = aOffset;
  let b = bOffset;
  for (let i = 0; i < total; i++) {
    visit(i, a, b);
    // Odometer step: bump the last axis; on wrap, rewind it and carry into the one before.
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      a += aStrides[d];
      b += bStrides[d];
      if (idx[d] < shape[d]) break;
      a -= aStrides[d] * shape[d];
      b -= bStrides[d] * shape[d];
      idx[d] = 0;
    }
  }
}

/** Calls visit(i, offset) for each flat index i of `shape`, with its offset in one strided view. */
export function forEachStrided(
  shape: Int32Array, offset: number, strides: Int32Array, visit: (i: number, at: number) => void,
): void {
  forEachStrided2(shape, offset, strides, 0, strides, (i, at) => visit(i, at));
}
