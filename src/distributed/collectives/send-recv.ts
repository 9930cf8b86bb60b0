// Point-to-point send and receive. Messages between a pair of ranks are matched in order (the
// n-th send from a to b meets the n-th receive on b from a); the user tag and the element count
// travel in every frame and must agree, otherwise both sides are named in a mismatch error.
// Sends are eager: they complete once handed to the kernel, even before the receive is posted.
import { CollectiveMismatchError } from "../base/errors.js";
import type { OpContext } from "./op-context.js";
import { segmentRanges } from "./segments.js";

/** Segments of a p2p message; an empty message is still one (empty) frame, so it can be matched. */
function p2pSegments(count: number, segmentElems: number) {
  const segs = segmentRanges({ start: 0, length: count }, segmentElems);
  return segs.length > 0 ? segs : [{ start: 0, length: 0 }];
}

export function runSend(ctx: OpContext, buf: Float32Array, peer: number): void {
  p2pSegments(buf.length, ctx.segmentElems).forEach((rg, j) => ctx.send(peer, j, buf.subarray(rg.start, rg.start + rg.length)));
}

export function runRecv(ctx: OpContext, buf: Float32Array, peer: number, tag: number): void {
  p2pSegments(buf.length, ctx.segmentElems).forEach((rg, j) =>
    ctx.recv(
      peer,
      j,
      buf.subarray(rg.start, rg.start + rg.length),
      () => {},
      (h) =>
        h.aux0 === tag && h.aux1 === buf.length
          ? undefined
          : new CollectiveMismatchError(
              `${ctx.label}: rank ${peer} sent tag ${h.aux0} with ${h.aux1} floats, rank ${ctx.rank} expected tag ${tag} with ${buf.length}`,
              { op: ctx.opName, seq: ctx.seq, ranks: [peer, ctx.rank] },
            ),
    ),
  );
}
