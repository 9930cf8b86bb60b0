// The all-reduce hooks: "none", DDP's baseline, is the one averaging all-reduce per bucket that DDP
// always ran (PyTorch's allreduce_hook), so choosing it changes nothing, not even the timing;
// "bf16" is the same all-reduce asking for bf16 elements on the wire (PyTorch's
// bf16_compress_hook), whose rounding the ring already defines (Note [compressed ring] in
// collectives/ring.ts).
//
// Identical gradients (Note [identical gradients] in grad-hook.ts): an all-reduce leaves the same
// bytes on every rank, compressed or not.
import type { WireDtype } from "../compression/wire-dtype.js";
import type { CallOptions, ProcessGroup } from "../group/process-group.js";
import type { GradBucket, GradHook } from "./grad-hook.js";

/**
 * Averages each bucket with one all-reduce: with `wire` undefined, as the group is configured
 * ("none", the baseline); with "bf16" or "f16", 16-bit elements over TCP, half the bytes. Through
 * shared memory elements stay float32 whatever `wire` says (docs/distributed.md, Compression on
 * the wire).
 *
 * @example bf16 on the wire: both ranks get 1/3 at bf16's precision
 * ```ts
 * import { createInProcessGroups } from "weft";
 * const groups = createInProcessGroups(2, { smallMessageBytes: 0 });   // even two floats take the ring
 * const hook = new AllReduceHook("bf16");
 * const buckets = groups.map(() => ({ index: 0, buffer: Float32Array.of(1, 1 / 3), slots: [{ offset: 0, shape: [2] }] }));
 * await Promise.all(groups.map((pg, r) => hook.reduce(buckets[r]!, pg, {})));
 * assert.deepEqual(buckets.map((b) => b.buffer[1]), [0.333984375, 0.333984375]);
 * await Promise.all(groups.map((pg) => pg.destroy()));
 * ```
 */
export class AllReduceHook implements GradHook {
  readonly name: string;
  readonly submitsAtOnce = true;

  constructor(private readonly wire?: WireDtype) {
    this.name = wire === undefined ? "none" : wire;
  }

  reduce(bucket: GradBucket, pg: ProcessGroup, call: CallOptions): Promise<void> {
    return pg.allReduceAsync(bucket.buffer, { op: "avg", ...(this.wire === undefined ? {} : { wire: this.wire }), ...call }).wait();
  }
}
