// The ring: reduce-scatter, then all-gather, pipelined by segments (vocabulary in segments.ts).
//
// Ranks form a ring r -> r+1. With w ranks the buffer is cut into w chunks and each phase takes
// w-1 steps; every step each rank sends one chunk to `next` and receives one from `prev`:
//
//   reduce-scatter step s (0..w-2): rank r sends chunk (r-s-1) and receives chunk (r-s-2), which
//     it adds into its own copy. After the last step rank r holds the full sum of chunk r.
//   all-gather step t (0..w-2): rank r sends chunk (r-t) and receives chunk (r-t-1), final values
//     copied over its own. Afterwards every rank holds every chunk's sum.
//
// Each rank sends 2(w-1)/w of the buffer in total, the bandwidth floor of any all-reduce.
//
// Pipelining: the steps are not barriers. A segment is forwarded the moment it has been reduced,
// so segment j of step s+1 travels while segment j+1 of step s is still arriving; all-gather
// segments are received straight into the caller's buffer and forwarded from there.
//
// Note [ring reduction order]: chunk c is accumulated around the ring starting after its owner:
//   sum(c) = ((x[c+1] + x[c+2]) + x[c+3]) + ... + x[c]      (rank indices mod w)
// and then copied verbatim to every rank by the all-gather, so all ranks hold bitwise-identical
// results. The order differs per chunk; a test that wants bitwise equality with a single-process
// sum must add in this order (test/distributed/helpers/reference-sum.ts does).
//
// Note [compressed ring]: with `wire` "bf16" or "f16" every frame carries 16-bit elements, half
// the bytes, and the additions stay float32. Writing q(v) for v rounded to the wire type (round to
// nearest even, Note [wire rounding] in native/kernels/wire-convert/wire-convert.h), chunk c is
//   p1 = q(x[c+1]);  p_k = q(p_(k-1) + x[c+k]) for k = 2 .. w-1;  s = p_(w-1) + x[c]
// (each hop sends its partial sum rounded; the receiver adds its own float32 value), then for avg
// s = s / w, and the owner rounds its final values in place, s = q(s), before the all-gather sends
// them: every rank, owner included, ends with exactly those bits (the all-gather forwards the
// packed bytes as they came and unpacking is exact). Bitwise-identical replicas therefore hold
// with compression too, at the wire type's precision: the error of an element is at most about
// w rounding errors of the running sum of magnitudes (w · 2^-8 relative for bf16, w · 2^-11 for
// f16, whose range also ends at 65504: larger sums become Inf). Reduce-scatter alone skips the
// final rounding (nobody else holds that chunk). Segments keep their size in bytes
// (segmentBytes, stagingBytes), so a segment holds twice the elements. Frames must not change
// until written, so packed data lives in scratch mirrors of the buffer that each element position
// enters once per operation (ring-io.ts). Recursive doubling (messages up to smallMessageBytes)
// compresses its frames the same way (Note [compressed recursive doubling]).
import { divideInPlace } from "../base/reduce.js";
import { wireBytes, type WireDtype } from "../compression/wire-dtype.js";
import type { OpContext } from "./op-context.js";
import { createRingIo } from "./ring-io.js";
import { chunkRanges, mod, segmentRanges } from "./segments.js";

export interface RingPhases {
  /** Run the reduce-scatter phase (buffer must hold each rank's full input). */
  reduceScatter: boolean;
  /** Run the all-gather phase (after reduce-scatter, or with chunk r already in place). */
  allGather: boolean;
  /** Divide each reduced chunk by worldSize before it is gathered. */
  average: boolean;
  /** Element type on the wire (Note [compressed ring]). */
  wire: WireDtype;
}

/**
 * Runs the ring over `buf` in place. All sends and receives are issued from callbacks; the
 * operation completes when the OpContext has seen them all.
 */
export function runRing(ctx: OpContext, buf: Float32Array, phases: RingPhases): void {
  const w = ctx.worldSize;
  const r = ctx.rank;
  if (w === 1) return;
  const next = mod(r + 1, w);
  const prev = mod(r - 1, w);
  // Frames keep their size in bytes whatever the element type (Note [compressed ring]).
  const segmentElems = ctx.segmentElems * (4 / wireBytes(phases.wire));
  const segs = chunkRanges(buf.length, w).map((c) => segmentRanges(c, segmentElems));
  const perChunk = Math.max(...segs.map((s) => s.length));
  // Frame tags: steps are numbered 0..w-2 (reduce-scatter) then w-1..2w-3 (all-gather).
  const tagOf = (step: number, j: number): number => step * perChunk + j;
  const gatherStep0 = w - 1;

  // Reduce-scatter receives go to staging (we need our own values to add to), at most
  // stagingBytes posted ahead; each slot is re-posted as soon as its segment is reduced.
  // Segments beyond the window wait in the socket (Note [hold, don't buffer]).
  const schedule: { step: number; chunk: number; j: number }[] = [];
  if (phases.reduceScatter) {
    for (let s = 0; s < w - 1; s++) {
      const c = mod(r - s - 2, w);
      for (let j = 0; j < segs[c]!.length; j++) schedule.push({ step: s, chunk: c, j });
    }
  }
  const window = Math.max(1, Math.min(schedule.length, Math.floor(ctx.stagingElems / ctx.segmentElems)));
  const io = createRingIo({ ctx, buf, next, prev, wire: phases.wire, segmentElems, stagingSlots: window });

  if (phases.allGather) {
    for (let t = 0; t < w - 1; t++) {
      const c = mod(r - t - 1, w);
      segs[c]!.forEach((rg, j) => io.recvFinal(tagOf(gatherStep0 + t, j), rg, t < w - 2 ? tagOf(gatherStep0 + t + 1, j) : undefined));
    }
  }

  if (!phases.reduceScatter) {
    segs[r]!.forEach((rg, j) => io.sendFinal(tagOf(gatherStep0, j), rg));
    return;
  }

  // Step 0 sends our own values of chunk r-1, before any receive is posted. Note [ring frame
  // order]: the next rank posts its reduce-scatter receives in schedule order (step by step,
  // segment by segment) and holds any frame that arrives ahead of its window, so our frames must
  // leave in that order too. Posting a receive can deliver a frame at once (one that was held or
  // kept), and reducing it sends a step-1 segment; had the step-0 segments not left already, that
  // segment would overtake them and both ranks would wait for each other.
  segs[mod(r - 1, w)]!.forEach((rg, j) => io.sendPartial(tagOf(0, j), rg));

  let posted = 0;
  const postNext = (slot: number): void => {
    if (posted >= schedule.length) return;
    const { step, chunk, j } = schedule[posted++]!;
    const rg = segs[chunk]![j]!;
    io.recvPartial(tagOf(step, j), rg, slot, () => {
      postNext(slot);
      if (step < w - 2) return io.sendPartial(tagOf(step + 1, j), rg);
      if (phases.average) divideInPlace(buf.subarray(rg.start, rg.start + rg.length), w);
      if (phases.allGather) io.sendFinal(tagOf(gatherStep0, j), rg);
    });
  };
  for (let k = 0; k < window; k++) postNext(k);
}
