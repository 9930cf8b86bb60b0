// Broadcast: the root's buffer is copied to every rank. A pipelined chain root -> root+1 -> ...:
// each rank receives segments straight into its buffer and forwards each one as it lands, so the
// time is about one buffer transfer plus one segment per hop.
import type { OpContext } from "./op-context.js";
import { mod, segmentRanges } from "./segments.js";

export function runBroadcast(ctx: OpContext, buf: Float32Array, root: number): void {
  const w = ctx.worldSize;
  if (w === 1) return;
  const pos = mod(ctx.rank - root, w);
  const next = mod(ctx.rank + 1, w);
  const prev = mod(ctx.rank - 1, w);
  const segs = segmentRanges({ start: 0, length: buf.length }, ctx.segmentElems);
  segs.forEach((rg, j) => {
    const region = buf.subarray(rg.start, rg.start + rg.length);
    if (pos === 0) return ctx.send(next, j, region);
    ctx.recv(prev, j, region, () => {
      if (pos < w - 1) ctx.send(next, j, region);
    });
  });
}
