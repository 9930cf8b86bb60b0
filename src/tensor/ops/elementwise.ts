// Element-wise operations with NumPy broadcasting, each forward beside its backward.
import { backend } from "../../backend/index.js";
import type { UnaryOp } from "../../backend/backend.js";
import {
  broadcastShapes, broadcastStrides, contiguousStrides, i32, sameShape, sizeOf, type Shape,
} from "../shape.js";
import { accumulateGrad, fromOp, noGrad, Tensor, unrecorded } from "../tensor.js";
import { uninitialized } from "../storage.js";

/** Sums a gradient of shape `from` down to `to` (the backward of broadcasting `to` up to `from`). */
export function sumToShape(g: Float32Array, from: Shape, to: Shape): { data: Float32Array; owned: boolean } {
  if (sameShape(from, to)) return { data: g, owned: false };
  // Broadcast over leading axes only (a bias): a column sum, which the reduce kernel does fast.
  const lead = from.length - to.length;
  const trimmed = to.slice(to.findIndex((d) => d !== 1) < 0 ? to.length : to.findIndex((d) => d !== 1));
  if (lead >= 0 && sameShape(from.slice(from.length - trimmed.length), trimmed)) {
    const out = uninitialized(sizeOf(to));
    const inner = sizeOf(trimmed);
    backend().reduce("sum", g, out, 1, g.length / Math.max(inner, 1), inner);
    return { data: out, owned: true };
  }
  const out = new Float32Array(sizeOf(to));
  backend().accumulateStrided(g, i32(from), out, 0, i32(broadcastStrides(to, contiguousStrides(to), from)));
  return { data: out, owned: true };
}

function sendBack(t: Tensor, g: Float32Array, from: Shape, owned: boolean): void {
  if (!t.requiresGrad) return;
  const r = sumToShape(g, from, t.shape);
  accumulateGrad(t, r.data, r.owned ? true : owned);
}

type Operand = Tensor | number;

function asTensor(x: Operand): Tensor {
  return typeof x === "number" ? new Tensor(new Float32Array([x]), []) : x;
}

/** Runs a binary kernel over the broadcast of a and b into a fresh contiguous output. */
function binaryRaw(op: Parameters<ReturnType<typeof backend>["binary"]>[0], a: Tensor, b: Tensor, shape: Shape): Float32Array {
  const out = uninitialized(sizeOf(shape));
  backend().binary(
    op,
    a.data, a.offset, i32(broadcastStrides(a.shape, a.strides, shape)),
    b.data, b.offset, i32(broadcastStrides(b.shape, b.strides, shape)),
    out, i32(shape),
  );
  return out;
}

/** Wraps a raw buffer of `shape` as a tensor (for use inside backward closures, under noGrad). */
function raw(g: Float32Array, shape: Shape): Tensor {
  return new Tensor(g, shape);
}

export function add(x: Operand, y: Operand): Tensor {
  const a = asTensor(x), b = asTensor(y);
  const shape = broadcastShapes("add", a.shape, b.shape);
  return fromOp("add", binaryRaw("add", a, b, shape), shape, [a, b], (g) => {
    sendBack(a, g, shape, false);
    sendBack(b, g, shape, false);
  });
}

export function sub(x: Operand, y: Operand): Tensor {
  const a = asTensor(x), b = asTensor(y);
  const shape = broadcastShapes("sub", a.shape, b.shape);
  return fromOp("sub", binaryRaw("sub", a, b, shape), shape, [a, b], (g) => {
    sendBack(a, g, shape, false);
    if (b.requiresGrad) {
      const ng = uninitialized(g.length);
      backend().affine(g, ng, g.length, -1, 0);
      sendBack(b, ng, shape, true);
    }
  });
}

export function mul(x: Operand, y: Operand): Tensor {
  const a = asTensor(x), b = asTensor(y);
  const shape = broadcastShapes("mul", a.shape, b.shape);
  return fromOp("mul", binaryRaw("mul", a, b, shape), shape, [a, b], (g) => {
    const gt = raw(g, shape);
    if (a.requiresGrad) sendBack(a, binaryRaw("mul", gt, b, shape), shape, true);
    if (b.requiresGrad) sendBack(b, binaryRaw("mul", gt, a, shape), shape, true);
  });
}

export function div(x: Operand, y: Operand): Tensor {
  const a = asTensor(x), b = asTensor(y);
  const shape = broadcastShapes("div", a.shape, b.shape);
  const out = binaryRaw("div", a, b, shape);
  return fromOp("div", out, shape, [a, b], (g) => {
    const gt = raw(g, shape);
    const ga = binaryRaw("div", gt, b, shape); // g / b
    if (a.requiresGrad) sendBack(a, ga, shape, !b.requiresGrad);
    if (b.requiresGrad) {
      // d(a/b)/db = -(a/b)/b, so gb = -(g/b) * out
      const gb = binaryRaw("mul", raw(ga, shape), raw(out, shape), shape);
      backend().affine(gb, gb, gb.length, -1, 0);
      sendBack(b, gb, shape, true);
    }
  });
}

/**
 * max(a, b) and min(a, b). The gradient goes to the larger (smaller) input; on ties, to b. It is
 * g * step(a - b), which is exactly relu's backward applied to the difference.
 */
function extremum(op: "max" | "min", x: Operand, y: Operand): Tensor {
  const a = asTensor(x), b = asTensor(y);
  const shape = broadcastShapes(op, a.shape, b.shape);
  return fromOp(op, binaryRaw(op, a, b, shape), shape, [a, b], (g) => {
    const diff = op === "max" ? binaryRaw("sub", a, b, shape) : binaryRaw("sub", b, a, shape);
    const ga = uninitialized(g.length);
    backend().unaryBackward("relu", diff, diff, g, ga, g.length);
    if (b.requiresGrad) {
      const gb = g.slice();
      backend().axpy(-1, ga, gb, gb.length);
      sendBack(b, gb, shape, true);
    }
    sendBack(a, ga, shape, true);
  });
}

export const maximum = (x: Operand, y: Operand): Tensor => extremum("max", x, y);
export const minimum = (x: Operand, y: Operand): Tensor => extremum("min", x, y);

/** a ** b element-wise. */
export function pow(x: Operand, y: Operand): Tensor {
  const a = asTensor(x), b = asTensor(y);
  const shape = broadcastShapes("pow", a.shape, b.shape);
  const out = binaryRaw("pow", a, b, shape);
  return fromOp("pow", out, shape, [a, b], (g) =>
    noGrad(() => {
      const gt = raw(g, shape);
      // d/da = b * a^(b-1);  d/db = a^b * ln a
      if (a.requiresGrad) sendBack(a, mul(gt, mul(b, pow(unrecorded(a), sub(unrecorded(b), 1)))).data, shape, true);
      if (b.requiresGrad) sendBack(b, mul(gt, mul(raw(out, shape), unary("log", unrecorded(a)))).data, shape, true);
    }),
  );
}

/** alpha * x + beta, one fused pass (scaling, shifting, 1 - x). */
export function affine(x: Tensor, alpha: number, beta = 0): Tensor {
  const xd = x.dense();
  const out = uninitialized(x.size);
  backend().affine(xd, out, x.size, alpha, beta);
  return fromOp("affine", out, x.shape, [x], (g) => {
    if (alpha === 1) return accumulateGrad(x, g, false);
    const gx = uninitialized(g.length);
    backend().affine(g, gx, g.length, alpha, 0);
    accumulateGrad(x, gx, true);
  });
}

export function unary(op: UnaryOp, x: Tensor): Tensor {
  const xd = x.dense();
  const out = uninitialized(x.size);
  backend().unary(op, xd, 0, out, x.size);
  return fromOp(op, out, x.shape, [x], (g) => {
    const gx = uninitialized(g.length);
    backend().unaryBackward(op, xd, out, g, gx, g.length);
    accumulateGrad(x, gx, true);
  });
}

export const neg = (x: Tensor): Tensor => unary("neg", x);
export const exp = (x: Tensor): Tensor => unary("exp", x);
export const log = (x: Tensor): Tensor => unary("log", x);
export const sqrt = (x: Tensor): Tensor => unary("sqrt", x);
export const rsqrt = (x: Tensor): Tensor => unary("rsqrt", x);
export const abs = (x: Tensor): Tensor => unary("abs", x);
export const tanh = (x: Tensor): Tensor => unary("tanh", x);
export const sigmoid = (x: Tensor): Tensor => unary("sigmoid", x);
export const relu = (x: Tensor): Tensor => unary("relu", x);
export const gelu = (x: Tensor): Tensor => unary("gelu", x);
export const square = (x: Tensor): Tensor => unary("square", x);
export const reciprocal = (x: Tensor): Tensor => unary("reciprocal", x);
