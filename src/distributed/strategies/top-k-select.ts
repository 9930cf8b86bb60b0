// Which k entries of a gradient are largest in magnitude: the selection of top-k sparsification
// (topk-hook.ts). A quickselect finds the k-th largest magnitude in expected linear time, then one
// pass takes every entry above it and, of the entries equal to it, the first ones by index, so
// exactly k are chosen, in index order, and the same input always gives the same choice.
//
// The native addon does the same selection (native/dist/top-k.h: std::nth_element for the k-th
// magnitude, then the same choice of indices), several times faster; this file's loops run where
// the addon is missing. The k-th largest magnitude is one value however it is found, so both choose
// the same indices and ranks with and without the addon agree.
import { selectAddon } from "../base/native-dist.js";

/** |x|, with NaN as the largest magnitude of all, so a NaN gradient is sent (and seen) rather than hidden. */
function magnitude(x: number): number {
  return x !== x ? Infinity : Math.abs(x);
}

/**
 * The `target`-th smallest element of `a` (0-based), rearranging `a` in place: Hoare partitions
 * around a median of three, narrowed to the side that holds the target.
 */
function select(a: Float32Array, target: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    const x = a[lo]!, y = a[(lo + hi) >>> 1]!, z = a[hi]!;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i++] = a[j]!;
        a[j--] = t;
      }
    }
    // Now a[lo..j] <= pivot <= a[i..hi], and anything between j and i equals the pivot.
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return pivot;
  }
  return a[lo]!;
}

/**
 * Writes to `out` (length k, 1 <= k <= values.length) the indices of the k entries of `values`
 * largest in magnitude, ascending; ties at the k-th magnitude go to the lower indices. `scratch`
 * (at least values.length long) is overwritten.
 *
 * @example
 * ```ts
 * const out = new Int32Array(2);
 * largestMagnitudes(Float32Array.of(0.5, -3, 2, 2), 2, out, new Float32Array(4));
 * assert.deepEqual([...out], [1, 2]);   // -3, then the first of the two 2s
 * ```
 */
export function largestMagnitudes(values: Float32Array, k: number, out: Int32Array, scratch: Float32Array): void {
  const n = values.length;
  if (!Number.isInteger(k) || k < 1 || k > n || out.length !== k || scratch.length < n) {
    throw new RangeError(`largestMagnitudes: k must be an integer from 1 to ${n} with out.length k and scratch.length >= ${n}; got k ${k}, out ${out.length}, scratch ${scratch.length}`);
  }
  if (selectAddon) selectAddon.largestMagnitudes(values, k, out, scratch);
  else largestMagnitudesJs(values, k, out, scratch);
}

/** largestMagnitudes in JavaScript alone (its arguments checked): where the addon is missing, and for the test that compares the two. */
export function largestMagnitudesJs(values: Float32Array, k: number, out: Int32Array, scratch: Float32Array): void {
  const n = values.length;
  const mags = scratch.subarray(0, n);
  for (let i = 0; i < n; i++) mags[i] = magnitude(values[i]!);
  const threshold = select(mags, n - k);
  let above = 0;
  for (let i = 0; i < n; i++) if (magnitude(values[i]!) > threshold) above++;
  let ties = k - above;
  let m = 0;
  for (let i = 0; i < n && m < k; i++) {
    const v = magnitude(values[i]!);
    if (v > threshold || (v === threshold && ties-- > 0)) out[m++] = i;
  }
}
