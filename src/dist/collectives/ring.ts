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
// sum must add in this order (test/dist/helpers/reference-sum.ts does).
import { addInto, divideInPlace } from "../reduce.js";
import type { OpContext } from "./op-context.js";
import { chunkRanges, mod, segmentRanges, type Range } from "./segments.js";

export interface RingPhases {
  /** Run the reduce-scatter phase (buffer must hold each rank's full input). */
  reduceScatter: boolean;
  /** Run the all-gather phase (after reduce-scatter, or with chunk r already in place). */
  allGather: boolean;
  /** Divide each reduced chunk by worldSize before it is gathered. */
  average: boolean;
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
  const segs = chunkRanges(buf.length, w).map((c) => segmentRanges(c, ctx.segmentElems));
  const perChunk = Math.max(...segs.map((s) => s.length));
  // Frame tags: steps are numbered 0..w-2 (reduce-scatter) then w-1..2w-3 (all-gather).
  const tagOf = (step: number, j: number): number => step * perChunk + j;
  const view = (rg: Range): Float32Array => buf.subarray(rg.start, rg.start + rg.length);
  const gatherStep0 = w - 1;

  if (phases.allGather) {
    for (let t = 0; t < w - 1; t++) {
      const c = mod(r - t - 1, w);
      segs[c]!.forEach((rg, j) => {
        const region = view(rg);
        ctx.recv(prev, tagOf(gatherStep0 + t, j), region, () => {
          if (t < w - 2) ctx.send(next, tagOf(gatherStep0 + t + 1, j), region);
        });
      });
    }
  }

  if (!phases.reduceScatter) {
    segs[r]!.forEach((rg, j) => ctx.send(next, tagOf(gatherStep0, j), view(rg)));
    return;
  }

  // Step 0 sends our own values of chunk r-1, before any receive is posted. Note [ring frame
  // order]: the next rank posts its reduce-scatter receives in schedule order (step by step,
  // segment by segment) and holds any frame that arrives ahead of its window, so our frames must
  // leave in that order too. Posting a receive can deliver a frame at once (one that was held or
  // kept), and reducing it sends a step-1 segment; had the step-0 segments not left already, that
  // segment would overtake them and both ranks would wait for each other.
  segs[mod(r - 1, w)]!.forEach((rg, j) => ctx.send(next, tagOf(0, j), view(rg)));

  // Reduce-scatter receives go to staging buffers (we need our own values to add to), at most
  // ctx.stagingElems posted ahead; each buffer is re-posted as soon as its segment is reduced.
  // Segments beyond the window wait in the socket (Note [hold, don't buffer]).
  const schedule: { step: number; chunk: number; j: number }[] = [];
  for (let s = 0; s < w - 1; s++) {
    const c = mod(r - s - 2, w);
    for (let j = 0; j < segs[c]!.length; j++) schedule.push({ step: s, chunk: c, j });
  }
  let posted = 0;
  const postNext = (stage: Float32Array): void => {
    if (posted >= schedule.length) return;
    const { step, chunk, j } = schedule[posted++]!;
    const region = view(segs[chunk]![j]!);
    const staged = stage.subarray(0, region.length);
    ctx.recv(prev, tagOf(step, j), staged, () => {
      addInto(region, staged); // region = partial sum so far + own value (Note [ring reduction order])
      postNext(stage);
      if (step < w - 2) {
        ctx.send(next, tagOf(step + 1, j), region);
        return;
      }
      if (phases.average) divideInPlace(region, w);
      if (phases.allGather) ctx.send(next, tagOf(gatherStep0, j), region);
    });
  };
  const window = Math.max(1, Math.min(schedule.length, Math.floor(ctx.stagingElems / ctx.segmentElems)));
  const staging = ctx.scratch("ring-staging", window * ctx.segmentElems);
  for (let k = 0; k < window; k++) {
    postNext(staging.subarray(k * ctx.segmentElems, (k + 1) * ctx.segmentElems));
  }
}
