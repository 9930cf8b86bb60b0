// Cutting a parameter of the full model into a rank's slice, and putting slices back: the one
// piece of index arithmetic every tensor-parallel layer shares. A slice is a range [start, end)
// along one axis of the full tensor seen under some shape (SplitPlacement), the form a sharded
// checkpoint stores (TensorSlice in strategies/strategy.ts).
import { Tensor } from "../../tensor/index.js";
import type { SplitPlacement } from "./tensor-parallel-model.js";

/** Where each slice created here lies in its full tensor (read back by shardedParameters). */
const placements = new WeakMap<Tensor, SplitPlacement>();

/** The placement of a slice made by sliceOf, or undefined for a tensor that is not one. */
export function placementOf(t: Tensor): SplitPlacement | undefined {
  return placements.get(t);
}

/**
 * Rank `rank` of `parts`' share of `n` items: [floor(rank n / parts), floor((rank + 1) n / parts)).
 * Even when `parts` divides `n`; otherwise the sizes differ by at most one (a vocabulary that the
 * group does not divide is split so).
 *
 * @example 10 rows over 4 ranks
 * ```ts
 * assert.deepEqual([0, 1, 2, 3].map((r) => rangeOf(10, 4, r)), [
 *   { start: 0, end: 2 }, { start: 2, end: 5 }, { start: 5, end: 7 }, { start: 7, end: 10 },
 * ]);
 * ```
 */
export function rangeOf(n: number, parts: number, rank: number): { start: number; end: number } {
  return { start: Math.floor((rank * n) / parts), end: Math.floor(((rank + 1) * n) / parts) };
}

function outerInner(shape: readonly number[], dim: number): { outer: number; inner: number } {
  const outer = shape.slice(0, dim).reduce((a, b) => a * b, 1);
  const inner = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  return { outer, inner };
}

/** The elements of `full` (row-major, `p.shape`) in the placement's range, row-major in the slice's own shape. */
export function takeSlice(full: Float32Array, p: SplitPlacement): Float32Array {
  const { outer, inner } = outerInner(p.shape, p.dim);
  const width = p.end - p.start;
  const along = p.shape[p.dim]!;
  const out = new Float32Array(outer * width * inner);
  for (let o = 0; o < outer; o++) {
    const from = (o * along + p.start) * inner;
    out.set(full.subarray(from, from + width * inner), o * width * inner);
  }
  return out;
}

/**
 * Writes a slice's elements (as takeSlice returns them) into their place in `full`.
 *
 * @example The middle column of a 2 × 3 matrix, out and back
 * ```ts
 * const full = Float32Array.of(1, 2, 3, 4, 5, 6);
 * const p = { shape: [2, 3], dim: 1, start: 1, end: 2 };
 * assert.deepEqual(Array.from(takeSlice(full, p)), [2, 5]);
 * placeSlice(full, p, Float32Array.of(-2, -5));
 * assert.deepEqual(Array.from(full), [1, -2, 3, 4, -5, 6]);
 * ```
 */
export function placeSlice(full: Float32Array, p: SplitPlacement, data: Float32Array): void {
  const { outer, inner } = outerInner(p.shape, p.dim);
  const width = p.end - p.start;
  const along = p.shape[p.dim]!;
  for (let o = 0; o < outer; o++) full.set(data.subarray(o * width * inner, (o + 1) * width * inner), (o * along + p.start) * inner);
}

/**
 * A new parameter holding `full`'s elements in the placement's range, shaped `shape` (the layer's
 * view of its slice, e.g. (out / T, in)); its placement is remembered for the strategy.
 */
export function sliceOf(full: Tensor, p: SplitPlacement, shape: readonly number[]): Tensor {
  const data = takeSlice(full.dense(), p);
  const t = new Tensor(data, shape, undefined, 0, true);
  if (t.size !== data.length) throw new RangeError(`sliceOf: a slice of ${data.length} elements cannot have shape [${shape.join(", ")}]`);
  placements.set(t, p);
  return t;
}
