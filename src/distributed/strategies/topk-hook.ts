// Top-k sparsification with error feedback (Stich, Cordonnier and Jaggi, "Sparsified SGD with
// Memory", 2018; Lin et al.'s Deep Gradient Compression): each rank sends only the fraction F of
// its bucket's entries that are largest in magnitude, as (index, value) pairs, and keeps the rest
// for later:
//
//   M = G + E                   this step's gradient plus what was held back before
//   S = the k = ceil(F·n) entries of M largest in magnitude (top-k-select.ts)
//   all-gather S                every rank gets every rank's k pairs (2k floats each)
//   bucket = (sum of all S) / N added up in rank order, then divided by the N ranks
//   E = M with S's entries set to zero
//
// Pairs are gathered rather than all-reduced because the ranks choose different indices: a sum of
// sparse vectors is not sparse in the same places. A rank sends (N-1)·2k floats in the ring
// all-gather, where the plain all-reduce sends 2(N-1)/N·n: fewer bytes while F < 1/N.
//
// Identical gradients (Note [identical gradients] in grad-hook.ts): the bucket is zeroed and then
// written from the all-gather's output alone, the same bytes on every rank, by the same additions
// in the same order. Each rank's choice of S and its residual E are its own.
//
// Note [indices in float buffers]: collectives move Float32Array buffers, so an index travels as
// the 32 bits of a uint32 in a float slot, written and read through a Uint32Array view of the same
// memory. Nothing does arithmetic on an all-gather's elements (every transport copies bytes), so
// the bits arrive as sent, for any index below 2^32 (no float32 could count that far exactly).
import { sharedFloat32Array } from "../base/shared-buffer.js";
import type { CallOptions, ProcessGroup } from "../group/process-group.js";
import type { GradBucket, GradHook } from "./grad-hook.js";
import { largestMagnitudes } from "./top-k-select.js";

export interface TopKOptions {
  /** F, the fraction of each bucket's entries a rank sends (0 < F < 1); at least one entry. */
  fraction: number;
}

interface BucketState {
  k: number;
  /** Error feedback: what this rank has not sent yet, its own alone. */
  error: Float32Array;
  chosen: Int32Array;
  scratch: Float32Array;
  /** This rank's pairs: k indices (as uint32 bits, Note [indices in float buffers]), then their k values. */
  send: Float32Array;
  /** Every rank's pairs, rank by rank. */
  gathered: Float32Array;
}

/**
 * The top-k hook, `--grad-compression topk:F`: the fraction F of largest entries per bucket, with
 * error feedback, exchanged by all-gather and summed alike on every rank.
 *
 * @example Each rank sends its largest entry; what it kept back comes next step
 * ```ts
 * import { createInProcessGroups } from "weft";
 * const groups = createInProcessGroups(2);
 * const hooks = groups.map(() => new TopKHook({ fraction: 0.25 }));   // 1 entry of 4
 * const bucket = (g: number[]) => ({ index: 0, buffer: Float32Array.from(g), slots: [{ offset: 0, shape: [4] }] });
 * const step1 = [bucket([4, 0, 1, 0]), bucket([0, -2, 0, 0])];
 * await Promise.all(groups.map((pg, r) => hooks[r]!.reduce(step1[r]!, pg, {})));
 * assert.deepEqual([...step1[0]!.buffer], [2, -1, 0, 0]);          // (4 + (-2)) spread over 2 ranks
 * assert.deepEqual([...step1[1]!.buffer], [...step1[0]!.buffer]);
 * const step2 = [bucket([0, 0, 0, 0]), bucket([0, 0, 0, 0])];      // rank 0 still holds its 1
 * await Promise.all(groups.map((pg, r) => hooks[r]!.reduce(step2[r]!, pg, {})));
 * assert.deepEqual([...step2[0]!.buffer], [0, 0, 0.5, 0]);
 * await Promise.all(groups.map((pg) => pg.destroy()));
 * ```
 */
export class TopKHook implements GradHook {
  readonly name: string;
  readonly submitsAtOnce = false;
  private readonly fraction: number;
  private readonly states = new Map<number, BucketState>();

  constructor(options: TopKOptions) {
    const { fraction } = options;
    if (!(fraction > 0 && fraction < 1)) throw new RangeError(`top-k: fraction must be above 0 and below 1, got ${fraction}`);
    this.fraction = fraction;
    this.name = `topk:${fraction}`;
  }

  async reduce(bucket: GradBucket, pg: ProcessGroup, call: CallOptions): Promise<void> {
    const g = bucket.buffer;
    const s = this.stateOf(bucket, pg.worldSize);
    const { k, error: m, chosen, send } = s;
    for (let i = 0; i < g.length; i++) m[i] = m[i]! + g[i]!;
    largestMagnitudes(m, k, chosen, s.scratch);
    const sendBits = new Uint32Array(send.buffer, send.byteOffset, k);
    for (let j = 0; j < k; j++) {
      const i = chosen[j]!;
      sendBits[j] = i;
      send[k + j] = m[i]!;
      m[i] = 0; // what is left in m is the residual E
    }
    await pg.allGather(send, s.gathered, call);
    const bits = new Uint32Array(s.gathered.buffer, s.gathered.byteOffset, s.gathered.length);
    g.fill(0);
    for (let from = 0; from < pg.worldSize; from++) {
      const base = from * 2 * k;
      for (let j = 0; j < k; j++) {
        const i = bits[base + j]!;
        g[i] = g[i]! + s.gathered[base + k + j]!;
      }
    }
    for (let i = 0; i < g.length; i++) g[i] = g[i]! / pg.worldSize;
  }

  private stateOf(bucket: GradBucket, worldSize: number): BucketState {
    const known = this.states.get(bucket.index);
    if (known) return known;
    const n = bucket.buffer.length;
    const k = Math.min(n, Math.max(1, Math.ceil(this.fraction * n)));
    const state: BucketState = {
      k, error: new Float32Array(n), chosen: new Int32Array(k), scratch: new Float32Array(n),
      send: sharedFloat32Array(2 * k), gathered: sharedFloat32Array(worldSize * 2 * k),
    };
    this.states.set(bucket.index, state);
    return state;
  }
}
