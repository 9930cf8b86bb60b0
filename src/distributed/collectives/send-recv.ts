// Point-to-point send and receive. Messages between a pair of ranks are matched in order (the
// n-th send from a to b meets the n-th receive on b from a); the user tag and the element count
// travel in every frame and must agree, otherwise both sides are named in a mismatch error.
// Sends are eager: they complete once handed to the kernel, even before the receive is posted.
// Receiving from whichever rank sends first is recv-any.ts.
import { CollectiveMismatchError, type CollectiveError } from "../base/errors.js";
import type { FrameHeader } from "../wire/frame.js";
import type { OpContext } from "./op-context.js";
import { segmentRanges } from "./segments.js";

/** Segments of a p2p message; an empty message is still one (empty) frame, so it can be matched. */
export function p2pSegments(count: number, segmentElems: number) {
  const segs = segmentRanges({ start: 0, length: count }, segmentElems);
  return segs.length > 0 ? segs : [{ start: 0, length: 0 }];
}

/** The check of every frame of a message from `peer`: its user tag and element count must be the receive's. */
export function p2pCheck(ctx: OpContext, peer: number, tag: number, count: number): (h: FrameHeader) => CollectiveError | undefined {
  return (h) => {
    if (h.aux0 === tag && h.aux1 === count) return undefined;
    const [them, me] = [ctx.nameOf(peer), ctx.nameOf(ctx.rank)];
    return new CollectiveMismatchError(
      `${ctx.label}: rank ${them} sent tag ${h.aux0} with ${h.aux1} floats, rank ${me} expected tag ${tag} with ${count}`,
      { op: ctx.opName, seq: ctx.seq, ranks: [them, me] },
    );
  };
}

export function runSend(ctx: OpContext, buf: Float32Array, peer: number): void {
  p2pSegments(buf.length, ctx.segmentElems).forEach((rg, j) => ctx.send(peer, j, buf.subarray(rg.start, rg.start + rg.length)));
}

export function runRecv(ctx: OpContext, buf: Float32Array, peer: number, tag: number): void {
  const check = p2pCheck(ctx, peer, tag, buf.length);
  p2pSegments(buf.length, ctx.segmentElems).forEach((rg, j) => ctx.recv(peer, j, buf.subarray(rg.start, rg.start + rg.length), () => {}, check));
}
