// Operations that change how elements are arranged: reshape, transpose, permute, slice, expand
// (all free views of the same storage), and concat / indexSelect (copies).
import { backend } from "../../backend/index.js";
import {
  broadcastStrides, contiguousStrides, formatShape, i32, normalizeAxis, ShapeError, sizeOf, type Shape,
} from "../shape.js";
import { accumulateGrad, fromOp, Tensor, viewOf } from "../tensor.js";
import { uninitialized } from "../storage.js";

/** Resolves one -1 in a requested shape. */
function resolveShape(op: string, size: number, shape: Shape): number[] {
  const out = [...shape];
  const hole = out.indexOf(-1);
  if (hole >= 0) {
    const rest = sizeOf(out.filter((_, i) => i !== hole));
    out[hole] = rest === 0 ? 0 : size / rest;
  }
  if (sizeOf(out) !== size || out.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ShapeError(`${op}: cannot view ${size} elements as ${formatShape(shape)}`);
  }
  return out;
}

/** The same elements in a new shape: a view when x is contiguous, else a copy. One -1 is inferred. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const s = resolveShape("reshape", x.size, shape);
  const c = x.contiguous();
  return viewOf(c, "reshape", s, contiguousStrides(s), c.offset, contiguousStrides(s), 0, true);
}

/** Flattens axes start.. into one (Flatten in a CNN: (N, C, H, W) -> (N, C*H*W)). */
export function flatten(x: Tensor, start = 1): Tensor {
  const a = normalizeAxis("flatten", start, x.rank);
  return reshape(x, [...x.shape.slice(0, a), sizeOf(x.shape.slice(a))]);
}

/** Reorders axes: out.shape[i] = x.shape[axes[i]]. */
export function permute(x: Tensor, axes: readonly number[]): Tensor {
  if (axes.length !== x.rank) throw new ShapeError(`permute: ${axes.length} axes given for a tensor of rank ${x.rank}`);
  const ax = axes.map((a) => normalizeAxis("permute", a, x.rank));
  if (new Set(ax).size !== ax.length) throw new ShapeError(`permute: axes [${axes.join(", ")}] repeat an axis`);
  const logical = contiguousStrides(x.shape);
  return viewOf(
    x, "permute",
    ax.map((a) => x.shape[a]!), ax.map((a) => x.strides[a]!), x.offset,
    ax.map((a) => logical[a]!), 0,
  );
}

/** Swaps two axes (default: the last two, as for a matrix transpose). */
export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const axes = [...Array(x.rank).keys()];
  const i = normalizeAxis("transpose", a, x.rank), j = normalizeAxis("transpose", b, x.rank);
  [axes[i], axes[j]] = [axes[j]!, axes[i]!];
  return permute(x, axes);
}

/** Elements start..end-1 along `axis` (a view). */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const a = normalizeAxis("slice", axis, x.rank);
  const d = x.shape[a]!;
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= d)) {
    throw new ShapeError(`slice: range ${start}..${end} is outside axis ${axis} of length ${d}`);
  }
  const shape = [...x.shape];
  shape[a] = end - start;
  const logical = contiguousStrides(x.shape);
  return viewOf(x, "slice", shape, x.strides, x.offset + start * x.strides[a]!, logical, start * logical[a]!);
}

/** Splits `axis` into pieces of the given sizes (views). */
export function split(x: Tensor, sizes: readonly number[], axis = -1): Tensor[] {
  const a = normalizeAxis("split", axis, x.rank);
  const total = sizes.reduce((s, n) => s + n, 0);
  if (total !== x.shape[a]) throw new ShapeError(`split: sizes [${sizes.join(", ")}] sum to ${total}, axis ${axis} has ${x.shape[a]}`);
  let at = 0;
  return sizes.map((n) => slice(x, a, at, (at += n)));
}

/** A view of x repeated along its size-1 axes (and new leading axes) up to `shape`. */
export function expand(x: Tensor, shape: Shape): Tensor {
  const lead = shape.length - x.rank;
  if (lead < 0 || x.shape.some((d, i) => d !== 1 && d !== shape[lead + i])) {
    throw new ShapeError(`expand: ${formatShape(x.shape)} cannot expand to ${formatShape(shape)}`);
  }
  return viewOf(
    x, "expand", shape, broadcastStrides(x.shape, x.strides, shape), x.offset,
    broadcastStrides(x.shape, contiguousStrides(x.shape), shape), 0,
  );
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normalizeAxis("unsqueeze", axis, x.rank + 1);
  const shape = [...x.shape];
  shape.splice(a, 0, 1);
  return reshape(x, shape);
}

export function squeeze(x: Tensor, axis: number): Tensor {
  const a = normalizeAxis("squeeze", axis, x.rank);
  if (x.shape[a] !== 1) throw new ShapeError(`squeeze: axis ${axis} has length ${x.shape[a]}, not 1`);
  return reshape(x, x.shape.filter((_, i) => i !== a));
}

/** Joins tensors along `axis`; all other axes must agree. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new ShapeError("concat: no tensors given");
  const first = xs[0]!;
  const a = normalizeAxis("concat", axis, first.rank);
  for (const t of xs) {
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new ShapeError(`concat: ${formatShape(t.shape)} does not match ${formatShape(first.shape)} outside axis ${axis}`);
    }
  }
  const shape = [...first.shape];
  shape[a] = xs.reduce((s, t) => s + t.shape[a]!, 0);
  const out = new Float32Array(sizeOf(shape));
  const outStrides = contiguousStrides(shape);
  const starts: number[] = [];
  let at = 0;
  for (const t of xs) {
    starts.push(at);
    // The output is zero-filled, so accumulating each piece into its place is a copy.
    backend().accumulateStrided(t.dense(), i32(t.shape), out, at * outStrides[a]!, i32(outStrides));
    at += t.shape[a]!;
  }
  return fromOp("concat", out, shape, xs, (g) => {
    xs.forEach((t, i) => {
      if (!t.requiresGrad) return;
      const gi = uninitialized(t.size);
      backend().copyStrided(g, starts[i]! * outStrides[a]!, i32(outStrides), gi, i32(t.shape));
      accumulateGrad(t, gi, true);
    });
  });
}

/** Rows of a 2-D table picked by `index` (an embedding lookup): out shape [...indexShape, cols]. */
export function indexSelect(table: Tensor, index: Int32Array, indexShape: Shape = [index.length]): Tensor {
  if (table.rank !== 2) throw new ShapeError(`indexSelect: the table must be 2-D, got ${formatShape(table.shape)}`);
  if (sizeOf(indexShape) !== index.length) throw new ShapeError(`indexSelect: index shape ${formatShape(indexShape)} does not hold ${index.length} indices`);
  const [rows, cols] = table.shape as [number, number];
  const out = uninitialized(index.length * cols);
  backend().indexSelect(table.dense(), rows, index, out, cols);
  return fromOp("indexSelect", out, [...indexShape, cols], [table], (g) => {
    const gt = new Float32Array(table.size);
    backend().indexAdd(g, index, gt, cols);
    accumulateGrad(table, gt, true);
  });
}
