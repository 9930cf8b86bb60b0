// Tensors as collective buffers. The engine works on dense Float32Arrays; a Tensor is a view
// (shape, strides, offset) of its storage, so:
//  - a contiguous tensor is used in place: its elements are storage[offset, offset + size), a
//    subarray, no copy (and no copy at all on the comm thread when the storage is shared);
//  - a non-contiguous view (a transpose, a slice across rows) is gathered into a dense copy in
//    row-major order, and an operation that writes it (all-reduce, broadcast, an output, a
//    receive) scatters the result back into the tensor's own storage once it succeeded, leaving
//    the storage between the view's elements as it was.
// An output whose axes overlap in storage (a broadcast view, stride 0) is refused: several results
// would land on one element.
//
// Only the tensor's fields are read (no tensor op runs), so nothing is recorded for autograd and
// the tensor layer is imported for its type alone.
import type { Tensor } from "../../tensor/tensor.js";

/**
 * What collectives take: a Float32Array, or a float32 Tensor (any view). A tensor has no `length`;
 * saying so (an absent one) keeps compiling the code written when these methods took Float32Array
 * alone and that reads `buffer.length` of their parameter (a wrapper of allReduceAsync, say).
 */
export type CommBuffer = Float32Array | (Tensor & { readonly length?: undefined });

/** A dense buffer for the engine, and what to do once the operation succeeded. */
export interface Staged {
  data: Float32Array;
  after: (() => void) | undefined;
}

function isContiguous(t: Tensor): boolean {
  let expected = 1;
  for (let i = t.shape.length - 1; i >= 0; i--) {
    if (t.shape[i] !== 1 && t.strides[i] !== expected) return false;
    expected *= t.shape[i]!;
  }
  return true;
}

/**
 * Copies between a strided view and a dense row-major buffer (`toDense`: view -> dense), walking
 * the outer axes like an odometer and the innermost one in a plain loop.
 */
function copyStrided(t: Tensor, dense: Float32Array, toDense: boolean): void {
  const { shape, strides, data } = t;
  const n = shape.length;
  if (t.size === 0) return;
  if (n === 0) {
    if (toDense) dense[0] = data[t.offset]!;
    else data[t.offset] = dense[0]!;
    return;
  }
  const inner = shape[n - 1]!;
  const step = strides[n - 1]!;
  const index = new Array<number>(n - 1).fill(0);
  let base = t.offset;
  for (let d = 0; d < t.size; d += inner) {
    if (toDense) for (let i = 0; i < inner; i++) dense[d + i] = data[base + i * step]!;
    else for (let i = 0; i < inner; i++) data[base + i * step] = dense[d + i]!;
    for (let a = n - 2; a >= 0; a--) {
      index[a]!++;
      base += strides[a]!;
      if (index[a]! < shape[a]!) break;
      base -= strides[a]! * shape[a]!;
      index[a] = 0;
    }
  }
}

/** Plain JavaScript callers can pass anything: say what was expected instead of failing deep inside. */
function checkTensor(b: Tensor, what: string): void {
  const t = b as Partial<Tensor> | null;
  if (t === null || typeof t !== "object" || !(t.data instanceof Float32Array) || !Array.isArray(t.shape) || !Array.isArray(t.strides)) {
    const got = t === null ? "null" : typeof t === "object" ? (t as object).constructor?.name ?? "an object" : typeof t;
    throw new TypeError(`${what} takes a Float32Array or a float32 Tensor, got ${got}`);
  }
}

/** The elements of `b`, dense (a view when possible): for buffers an operation only reads. */
export function denseInput(b: CommBuffer, what: string): Float32Array {
  if (b instanceof Float32Array) return b;
  checkTensor(b, what);
  if (isContiguous(b)) return b.data.subarray(b.offset, b.offset + b.size);
  const out = new Float32Array(b.size);
  copyStrided(b, out, true);
  return out;
}

/**
 * A dense buffer an operation writes (`readsToo`: and reads first, as all-reduce does), with the
 * write-back into a non-contiguous tensor's storage. `what` names the call for the error.
 */
export function denseOutput(b: CommBuffer, readsToo: boolean, what: string): Staged {
  if (b instanceof Float32Array) return { data: b, after: undefined };
  checkTensor(b, what);
  if (isContiguous(b)) return { data: b.data.subarray(b.offset, b.offset + b.size), after: undefined };
  const overlapping = b.shape.findIndex((d, i) => d > 1 && b.strides[i] === 0);
  if (overlapping >= 0) {
    throw new RangeError(
      `${what}: the output tensor of shape [${b.shape.join(", ")}] has stride 0 on axis ${overlapping} (a broadcast view), ` +
        `so its elements share storage and a result has nowhere to go; pass a tensor of its own (x.contiguous())`,
    );
  }
  const data = readsToo ? denseInput(b, what) : new Float32Array(b.size);
  return { data, after: () => copyStrided(b, data, false) };
}
