// Reductions over axes: sum, mean, max, min. The kernel reduces the middle axis of an
// (outer, n, inner) view, so a run of adjacent axes is one call; other axis sets are reduced one
// axis at a time.
import { backend } from "../../backend/index.js";
import type { ReduceOp } from "../../backend/backend.js";
import { broadcastStrides, contiguousStrides, i32, normalizeAxis, sizeOf } from "../shape.js";
import { accumulateGrad, fromOp, Tensor } from "../tensor.js";
import { affine } from "./elementwise.js";
import { uninitialized } from "../storage.js";

/** Axes to reduce, sorted and de-duplicated (all axes when none are given). */
function axesOf(op: string, x: Tensor, axes?: number | readonly number[]): number[] {
  if (axes === undefined) return [...Array(x.rank).keys()];
  const list = typeof axes === "number" ? [axes] : axes;
  return [...new Set(list.map((a) => normalizeAxis(op, a, x.rank)))].sort((p, q) => p - q);
}

/** Reduces the adjacent axes [first, last] of a contiguous x with one kernel call. */
function reduceRun(op: ReduceOp, x: Float32Array, shape: readonly number[], first: number, last: number): Float32Array {
  const outer = sizeOf(shape.slice(0, first));
  const n = sizeOf(shape.slice(first, last + 1));
  const inner = sizeOf(shape.slice(last + 1));
  const out = uninitialized(outer * inner);
  backend().reduce(op, x, out, outer, n, inner);
  return out;
}

/** Forward only: the reduced values, with the reduced axes kept as size 1. */
function reduceRaw(op: ReduceOp, x: Tensor, axes: number[]): { data: Float32Array; keptShape: number[] } {
  let data = x.dense();
  const shape = [...x.shape];
  const contiguousRun = axes.length > 0 && axes[axes.length - 1]! - axes[0]! === axes.length - 1;
  const runs = contiguousRun ? [[axes[0]!, axes[axes.length - 1]!]] : axes.map((a) => [a, a]);
  for (const [first, last] of runs.reverse()) {
    data = reduceRun(op, data, shape, first!, last!);
    for (let a = first!; a <= last!; a++) shape[a] = 1;
  }
  if (axes.length === 0) data = data.slice();
  return { data, keptShape: shape };
}

function finalShape(keptShape: number[], axes: number[], keepDims: boolean): number[] {
  return keepDims ? keptShape : keptShape.filter((_, i) => !axes.includes(i));
}

/** Spreads a gradient of the kept (size-1) shape back over x's shape. */
function broadcastBack(g: Float32Array, keptShape: number[], x: Tensor): Float32Array {
  const out = uninitialized(x.size);
  const strides = broadcastStrides(keptShape, contiguousStrides(keptShape), x.shape);
  backend().copyStrided(g, 0, i32(strides), out, i32(x.shape));
  return out;
}

export function sum(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const ax = axesOf("sum", x, axes);
  const { data, keptShape } = reduceRaw("sum", x, ax);
  return fromOp("sum", data, finalShape(keptShape, ax, keepDims), [x], (g) => {
    accumulateGrad(x, broadcastBack(g, keptShape, x), true);
  });
}

export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const ax = axesOf("mean", x, axes);
  const count = sizeOf(ax.map((a) => x.shape[a]!));
  return affine(sum(x, ax, keepDims), 1 / count);
}

/**
 * max / min over axes. The gradient goes to every element equal to the extremum (ties share it,
 * each getting the full gradient, as in PyTorch's amax). Not a hot path: the mask is built in
 * TypeScript.
 */
function extremum(op: "max" | "min", x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const ax = axesOf(op, x, axes);
  const { data, keptShape } = reduceRaw(op, x, ax);
  return fromOp(op, data, finalShape(keptShape, ax, keepDims), [x], (g) => {
    const spread = broadcastBack(g, keptShape, x);
    const best = broadcastBack(data, keptShape, x);
    const xd = x.dense();
    for (let i = 0; i < spread.length; i++) if (xd[i] !== best[i]) spread[i] = 0;
    accumulateGrad(x, spread, true);
  });
}

export const max = (x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor => extremum("max", x, axes, keepDims);
export const min = (x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor => extremum("min", x, axes, keepDims);

/** Index of the largest value along the last axis, per row (for accuracy; no gradient). */
export function argmax(x: Tensor): Int32Array {
  const cols = x.shape[x.rank - 1]!;
  const rows = x.size / cols;
  const d = x.dense();
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (d[r * cols + c]! > d[r * cols + best]!) best = c;
    out[r] = best;
  }
  return out;
}

