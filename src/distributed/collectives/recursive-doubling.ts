// Latency-optimal all-reduce for small messages: log2(w) rounds of pairwise exchange of the whole
// buffer (for 2 ranks: one direct exchange). Cost per rank: log2(w) × bytes sent, against the
// ring's 2(w-1) messages, so it wins while wake-ups, not bytes, dominate.
//
//   Let p be the largest power of two <= w, and e = w - p the "extra" ranks.
//   fold-in:   rank p+i (i < e) sends its buffer to rank i, which adds it:  v_i = x_i + x_{p+i}.
//   rounds:    for mask = 1, 2, 4, .. p/2, rank r < p exchanges v with partner r ^ mask and both
//              compute v_lower + v_upper.
//   fold-out:  rank i sends the result to rank p+i.
//
// Note [recursive-doubling reduction order]: every addition combines the same two operands on
// both partners (IEEE addition is commutative), so all ranks end bitwise identical; the result is
// the balanced tree over ranks 0..p-1 whose leaves are v_i, e.g. w = 4:
// (x0 + x1) + (x2 + x3); w = 3: (x0 + x2) + x1.
//
// A rank adds a received segment into its buffer only after its own send of that segment has
// been handed to the kernel, because sends are not copied.
import { addInto, divideInPlace } from "../base/reduce.js";
import type { OpContext } from "./op-context.js";
import { segmentRanges, type Range } from "./segments.js";

export function runRecursiveDoubling(ctx: OpContext, buf: Float32Array, average: boolean): void {
  const w = ctx.worldSize;
  const r = ctx.rank;
  const p = 2 ** Math.floor(Math.log2(w));
  const extra = w - p;
  const segs = segmentRanges({ start: 0, length: buf.length }, ctx.segmentElems);
  const rounds = Math.log2(p);
  const finalRound = rounds + 1;
  const tagOf = (round: number, j: number): number => round * segs.length + j;
  const view = (a: Float32Array, rg: Range): Float32Array => a.subarray(rg.start, rg.start + rg.length);

  if (r >= p) {
    // An extra rank: hand over our values, then receive the result straight into the buffer.
    segs.forEach((rg, j) => ctx.send(r - p, tagOf(0, j), view(buf, rg)));
    segs.forEach((rg, j) => ctx.recv(r - p, tagOf(finalRound, j), view(buf, rg), () => {}));
    return;
  }
  const staging = ctx.scratch("rd-staging", buf.length);

  const finish = (): void => {
    if (average) divideInPlace(buf, w);
    if (r < extra) segs.forEach((rg, j) => ctx.send(r + p, tagOf(finalRound, j), view(buf, rg)));
  };

  const exchange = (round: number): void => {
    if (round > rounds) return finish();
    const partner = r ^ (1 << (round - 1));
    let left = segs.length;
    segs.forEach((rg, j) => {
      // Add segment j only when both our send of it is out and the partner's copy is in.
      let waits = 2;
      const both = (): void => {
        if (--waits > 0) return;
        addInto(view(buf, rg), view(staging, rg));
        if (--left === 0) exchange(round + 1);
      };
      ctx.send(partner, tagOf(round, j), view(buf, rg), both);
      ctx.recv(partner, tagOf(round, j), view(staging, rg), both);
    });
    if (segs.length === 0) exchange(round + 1);
  };

  if (r < extra) {
    let left = segs.length;
    segs.forEach((rg, j) =>
      ctx.recv(r + p, tagOf(0, j), view(staging, rg), () => {
        addInto(view(buf, rg), view(staging, rg));
        if (--left === 0) exchange(1);
      }),
    );
    if (segs.length === 0) exchange(1);
  } else {
    exchange(1);
  }
}
