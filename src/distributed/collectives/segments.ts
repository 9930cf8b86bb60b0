// Vocabulary of the ring algorithms (the same words as gloo's allreduce.cc):
//
//  - a CHUNK is the part of the buffer one rank is responsible for during the ring: the buffer of
//    `count` elements is cut into `worldSize` contiguous chunks, chunk c owned by rank c (sizes
//    differ by at most one element; with count < worldSize some chunks are empty);
//  - a SEGMENT is the unit of one frame on the wire: each chunk is cut into segments of at most
//    `segmentElems` elements. Segments are what make the ring a pipeline: as soon as segment j of
//    a chunk is received and reduced it is forwarded to the next rank, while segment j+1 is still
//    in flight. Smaller segments overlap more; larger ones cost fewer frames and wake-ups.

export interface Range {
  /** First element. */
  start: number;
  /** Number of elements. */
  length: number;
}

/** Cuts `count` elements into `parts` contiguous ranges; the first `count % parts` get one extra. */
export function chunkRanges(count: number, parts: number): Range[] {
  const base = Math.floor(count / parts);
  const extra = count % parts;
  const out: Range[] = [];
  let start = 0;
  for (let c = 0; c < parts; c++) {
    const length = base + (c < extra ? 1 : 0);
    out.push({ start, length });
    start += length;
  }
  return out;
}

/** Cuts a range into segments of at most `segmentElems` elements (none for an empty range). */
export function segmentRanges(range: Range, segmentElems: number): Range[] {
  const out: Range[] = [];
  for (let off = 0; off < range.length; off += segmentElems) {
    out.push({ start: range.start + off, length: Math.min(segmentElems, range.length - off) });
  }
  return out;
}

/** `x mod n` in [0, n). */
export function mod(x: number, n: number): number {
  return ((x % n) + n) % n;
}
