// PowerSGD (Vogels, Karimireddy and Jaggi, "PowerSGD: Practical Low-Rank Gradient Compression for
// Distributed Optimization", NeurIPS 2019; PyTorch's powerSGD_hook): each matrix-shaped gradient
// M (rows x cols; a convolution's weight is read as out x in·kh·kw) travels as two thin factors of
// rank R, P (rows x R) and Q (cols x R), instead of rows·cols numbers:
//
//   M = G + E            this step's gradient plus what compression left out before (error feedback)
//   P = M Q              Q from the last step (warm start: one power iteration per step refines it)
//   all-reduce P (avg)   P is now (mean M) Q
//   orthonormalise P     Gram-Schmidt, on every rank alike (orthonormalize.ts)
//   Q = Mᵀ P             all-reduce Q (avg): Q is now (mean M)ᵀ P
//   M̂ = P Qᵀ             = P Pᵀ (mean M), the average projected on P's columns: the gradient stepped with
//   E = M - M̂            this rank's residual, added back next step
//
// A parameter is compressed when its factors are smaller than it, R(rows + cols) < rows·cols
// (which needs min(rows, cols) > R); vectors (biases, norms) and small matrices travel whole, in
// the same all-reduce as the P factors, so a bucket costs two all-reduces, of
// plain + R·Σ rows and R·Σ cols floats, where DDP's costs one of Σ rows·cols + plain.
//
// Identical gradients (Note [identical gradients] in grad-hook.ts): Q starts from the same seeded
// numbers on every rank and is afterwards an all-reduce result; P is one; orthonormalisation is
// plain float64 arithmetic; so P Qᵀ, the whole of what the bucket is left with, is the same
// product of the same bytes on every rank (the same GEMM kernel, as every rank also runs the same
// optimizer kernels). E and the local M Q, Mᵀ P differ between ranks, and only enter all-reduces.
import { checkWireDtype, type WireDtype } from "../compression/wire-dtype.js";
import type { GemmParams } from "../../backend/backend.js";
import { backend } from "../../backend/index.js";
import { Rng } from "../../util/rng.js";
import { sharedFloat32Array } from "../base/shared-buffer.js";
import type { CallOptions, ProcessGroup } from "../group/process-group.js";
import type { GradBucket, GradHook } from "./grad-hook.js";
import { orthonormalizeColumns } from "./orthonormalize.js";

export interface PowerSgdOptions {
  /** R, the rank of the factors (an integer >= 1; Vogels et al. train well with 1 to 4). */
  rank: number;
  /**
   * Steps averaged exactly, by one plain all-reduce, before compression starts (PyTorch's
   * start_powerSGD_iter): early gradients change fast, and warm start has nothing to refine yet.
   * Default 0.
   */
  plainSteps?: number;
  /**
   * Seed of the starting Q factors, the same on every rank (default 0): bucket i's Q, its
   * parameters' factors one after the other, each cols x R row-major, starts as 2u - 1 for
   * successive u = new Rng(seed).fork(i).next().
   */
  seed?: number;
  /**
   * Element type of the factors' and the uncompressed vectors' all-reduces over TCP (default:
   * the group's, float32 unless configured), as PyTorch's fp16_compress_wrapper(powerSGD_hook):
   * "bf16" halves PowerSGD's bytes again (docs/compression.md, Where PowerSGD's bytes go). The
   * plain steps before compression are sent as float32 whatever this says.
   */
  wire?: WireDtype;
}

/** A compressed parameter's places: in the bucket, in the P all-reduce, in the Q one, in the residual. */
interface Factored {
  at: number;
  rows: number;
  cols: number;
  p: number;
  q: number;
  e: number;
}

/** A bucket's layout and state, made at its first compressed step. */
interface BucketState {
  factored: Factored[];
  /** Slots sent whole: [offset, size) in the bucket, at the start of `first`. */
  whole: { at: number; size: number }[];
  /** The first all-reduce: the whole slots, then every P. */
  first: Float32Array;
  /** Every Q: the warm start between steps, and the second all-reduce. */
  q: Float32Array;
  /** Error feedback: M - M̂ of each compressed parameter, this rank's alone. */
  error: Float32Array;
  rng: Rng;
}

/**
 * The PowerSGD hook, `--grad-compression powersgd:R`: rank-R factors for each matrix, with error
 * feedback and warm start.
 *
 * @example A rank-1 gradient arrives exactly: one power step finds its direction
 * ```ts
 * import { createInProcessGroups } from "weft";
 * const groups = createInProcessGroups(2);
 * const hooks = groups.map(() => new PowerSgdHook({ rank: 1 }));
 * // Each rank's 3 x 3 gradient is a multiple of u vᵀ, u = (1, 2, 2), v = (1, 0, 1).
 * const outer = (s: number) => Float32Array.from([1, 2, 2].flatMap((u) => [1, 0, 1].map((v) => s * u * v)));
 * const buckets = [1, 3].map((s) => ({ index: 0, buffer: outer(s), slots: [{ offset: 0, shape: [3, 3] }] }));
 * await Promise.all(groups.map((pg, r) => hooks[r]!.reduce(buckets[r]!, pg, {})));
 * const mean = outer(2);
 * for (const b of buckets) b.buffer.forEach((x, i) => assert.ok(Math.abs(x - mean[i]!) < 1e-5));
 * assert.deepEqual([...buckets[0]!.buffer], [...buckets[1]!.buffer]);   // the same bits on both ranks
 * await Promise.all(groups.map((pg) => pg.destroy()));
 * ```
 */
export class PowerSgdHook implements GradHook {
  readonly name: string;
  readonly submitsAtOnce = false;
  private readonly rank: number;
  private readonly plainSteps: number;
  private readonly seed: number;
  private readonly wire: WireDtype | undefined;
  private readonly states = new Map<number, BucketState>();
  private readonly steps = new Map<number, number>();

  constructor(options: PowerSgdOptions) {
    const { rank, plainSteps = 0, seed = 0, wire } = options;
    if (wire !== undefined) checkWireDtype(wire, "PowerSGD wire");
    if (!Number.isSafeInteger(rank) || rank < 1) throw new RangeError(`PowerSGD: rank must be an integer >= 1, got ${rank}`);
    if (!Number.isSafeInteger(plainSteps) || plainSteps < 0) throw new RangeError(`PowerSGD: plainSteps must be an integer >= 0, got ${plainSteps}`);
    this.rank = rank;
    this.plainSteps = plainSteps;
    this.seed = seed;
    this.wire = wire;
    this.name = `powersgd:${rank}${plainSteps > 0 ? `:${plainSteps}` : ""}${wire === undefined || wire === "f32" ? "" : `:${wire}`}`;
  }

  async reduce(bucket: GradBucket, pg: ProcessGroup, call: CallOptions): Promise<void> {
    const step = this.steps.get(bucket.index) ?? 0;
    this.steps.set(bucket.index, step + 1);
    const s = step < this.plainSteps ? undefined : this.stateOf(bucket);
    if (s === undefined || s.factored.length === 0) {
      await pg.allReduce(bucket.buffer, { op: "avg", ...call });
      return;
    }
    const g = bucket.buffer;
    const r = this.rank;
    const kernels = backend();
    let at = 0;
    for (const w of s.whole) {
      s.first.set(g.subarray(w.at, w.at + w.size), at);
      at += w.size;
    }
    for (const f of s.factored) {
      for (let i = 0; i < f.rows * f.cols; i++) g[f.at + i] = g[f.at + i]! + s.error[f.e + i]!;
      // P (rows x R) = M (rows x cols) Q (cols x R)
      kernels.gemm(gemmOf(false, false, f.rows, r, f.cols, f.at, f.cols, f.q, r, f.p, r), g, s.q, s.first);
    }
    const packed = this.wire === undefined ? call : { ...call, wire: this.wire };
    await pg.allReduce(s.first, { op: "avg", ...packed });
    at = 0;
    for (const w of s.whole) {
      g.set(s.first.subarray(at, at + w.size), w.at);
      at += w.size;
    }
    for (const f of s.factored) {
      orthonormalizeColumns(s.first, f.p, f.rows, r);
      // Q (cols x R) = Mᵀ (cols x rows) P (rows x R)
      kernels.gemm(gemmOf(true, false, f.cols, r, f.rows, f.at, f.cols, f.p, r, f.q, r), g, s.first, s.q);
    }
    await pg.allReduce(s.q, { op: "avg", ...packed });
    for (const f of s.factored) {
      // M̂ (rows x cols) = P Qᵀ, into the residual's place; then the bucket takes M̂ and the residual M - M̂.
      kernels.gemm(gemmOf(false, true, f.rows, f.cols, r, f.p, r, f.q, r, f.e, f.cols), s.first, s.q, s.error);
      for (let i = 0; i < f.rows * f.cols; i++) {
        const m = g[f.at + i]!;
        const approx = s.error[f.e + i]!;
        g[f.at + i] = approx;
        s.error[f.e + i] = m - approx;
      }
      // A Q of zeros (a gradient of zeros, e.g. a parameter unused so far) would stay zeros for
      // good under warm start; start it afresh. Q is an all-reduce result, so every rank decides
      // alike and draws the same numbers.
      if (s.q.subarray(f.q, f.q + f.cols * r).every((x) => x === 0)) fillUniform(s.q, f.q, f.cols * r, s.rng);
    }
  }

  private stateOf(bucket: GradBucket): BucketState {
    const known = this.states.get(bucket.index);
    if (known) return known;
    const r = this.rank;
    const factored: Factored[] = [];
    const whole: { at: number; size: number }[] = [];
    let wholeSize = 0;
    let pSize = 0;
    let qSize = 0;
    let eSize = 0;
    for (const slot of bucket.slots) {
      const size = slot.shape.reduce((n, d) => n * d, 1);
      const rows = slot.shape.length >= 2 ? slot.shape[0]! : 1;
      const cols = rows === 0 ? 0 : size / rows;
      if (r * (rows + cols) < size) {
        factored.push({ at: slot.offset, rows, cols, p: pSize, q: qSize, e: eSize });
        pSize += rows * r;
        qSize += cols * r;
        eSize += size;
      } else {
        whole.push({ at: slot.offset, size });
        wholeSize += size;
      }
    }
    for (const f of factored) f.p += wholeSize;
    const rng = new Rng(this.seed).fork(bucket.index);
    const q = sharedFloat32Array(qSize);
    fillUniform(q, 0, qSize, rng);
    const state: BucketState = { factored, whole, first: sharedFloat32Array(wholeSize + pSize), q, error: new Float32Array(eSize), rng };
    this.states.set(bucket.index, state);
    return state;
  }
}

/** Uniform numbers in [-1, 1): from the generator's integers, so the same bits on every machine (a normal draw would go through Math.log). */
function fillUniform(a: Float32Array, offset: number, n: number, rng: Rng): void {
  for (let i = 0; i < n; i++) a[offset + i] = 2 * rng.next() - 1;
}

/** One row-major GEMM without batching: C (m x n) = op(A) op(B), A, B and C at the given offsets and leading dimensions. */
function gemmOf(
  transA: boolean, transB: boolean, m: number, n: number, k: number,
  offsetA: number, lda: number, offsetB: number, ldb: number, offsetC: number, ldc: number,
): GemmParams {
  return { transA, transB, m, n, k, alpha: 1, beta: 0, lda, ldb, ldc, batch: 1, offsetA, offsetB, offsetC, strideA: 0, strideB: 0, strideC: 0 };
}
