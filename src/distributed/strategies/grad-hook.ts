// The extension point of DDP's gradient averaging (PyTorch's DDP communication hooks): DDP fills
// a bucket with this rank's gradients and hands it to a hook, which must leave in it the
// gradients every rank steps with. The baseline (allreduce-hook.ts, "none") is the one all-reduce
// DDP always ran, so a job without a hook and a job with the baseline are the same job, bit for
// bit; the others trade exactness for bytes (bf16 on the wire, PowerSGD, top-k).
//
// Note [hook order]
// Every rank must issue the same collectives in the same order (process-group.ts). DDP calls
// reduce() for buckets 0, 1, 2... of a step, in that order on every rank. A hook whose reduce()
// submits all its collectives before it returns (one all-reduce: `submitsAtOnce`) is called as
// soon as its bucket is full, during backward, so its communication overlaps the rest of
// backward. A hook with phases (PowerSGD: all-reduce P, orthogonalise, all-reduce Q) submits its
// later collectives only once earlier ones finished, at moments that differ between ranks; DDP
// therefore calls such a hook for bucket i+1 only after bucket i's promise settled, which fixes
// the order (all of bucket 0's collectives, then all of bucket 1's) whatever the timing.
//
// Note [identical gradients]
// Replicas stay bitwise equal only if every rank ends a hook with the same bytes in every bucket
// (Note [bitwise-identical replicas] in ddp.ts). Each hook argues it where it writes the bucket;
// the argument is always the same shape: the bucket is written from collective results (which are
// identical on every rank) by the same deterministic code on the same backend, never from
// anything only this rank holds. Local state (error feedback) may differ between ranks, and does.
import type { CallOptions, ProcessGroup } from "../group/process-group.js";

/** One parameter's gradient inside a bucket. */
export interface GradSlot {
  /** Where it starts in the bucket's buffer, in elements. */
  readonly offset: number;
  /** The parameter's shape: its gradient is buffer[offset, offset + product(shape)) in row-major order. */
  readonly shape: readonly number[];
}

/** A bucket of gradients as DDP hands it to a hook. */
export interface GradBucket {
  /** Its place among the model's buckets, the same on every rank: per-bucket state is kept under it. */
  readonly index: number;
  /** This rank's gradients, concatenated (shared memory, so collectives work on it in place). */
  readonly buffer: Float32Array;
  /** The parameters whose gradients the buffer holds, in order. */
  readonly slots: readonly GradSlot[];
}

/**
 * How DDP turns each rank's gradients into the gradients every rank steps with. One object per
 * DDP instance: a hook may keep state per bucket (error feedback, warm-start factors).
 *
 * @example A hook is an object with a reduce(): here the plain average, written out
 * ```ts
 * import { createInProcessGroups } from "weft";
 * const average: GradHook = {
 *   name: "average", submitsAtOnce: true,
 *   reduce: (bucket, pg, call) => pg.allReduce(bucket.buffer, { op: "avg", ...call }),
 * };
 * const groups = createInProcessGroups(2);
 * const buckets = groups.map((pg) => ({ index: 0, buffer: Float32Array.of(pg.rank), slots: [{ offset: 0, shape: [1] }] }));
 * await Promise.all(groups.map((pg, r) => average.reduce(buckets[r]!, pg, {})));
 * assert.deepEqual(buckets.map((b) => b.buffer[0]), [0.5, 0.5]);
 * await Promise.all(groups.map((pg) => pg.destroy()));
 * ```
 */
export interface GradHook {
  /** What `--grad-compression` calls it ("none", "bf16", "powersgd:4", "topk:0.01"). */
  readonly name: string;
  /** Every collective is submitted before reduce() returns (Note [hook order]). */
  readonly submitsAtOnce: boolean;
  /**
   * Replaces `bucket.buffer` (this rank's gradients) with the gradients to step with, the same
   * bytes on every rank (Note [identical gradients]); resolves when it is done. Collectives go
   * through `pg` with `call` (the deadline), so the group counts their bytes.
   */
  reduce(bucket: GradBucket, pg: ProcessGroup, call: CallOptions): Promise<void>;
}
