// The affine map of a Linear layer, y = act(x W^T + b) + ..., as one op on one GEMM with an
// epilogue (Backend.gemmEpilogue): the bias, the activation and a residual add are applied to
// each block of the product while it is in cache, not as passes of their own.
//
// Note [fused linear backward]
// With v = x W^T + b + r and y = act(v), the backward from gy is
//   gv = gy * act'(v)     GELU's act' was saved by the forward's epilogue (one exp for both);
//                         ReLU's is step(y) (y > 0 exactly where v > 0); none's is 1: gv = gy
//   gb = sum over rows of gv,   gr = gv,
//   gW = gv^T x  (out, in), straight into the weight's layout: no transposed copy to fold back
//   gx = gv W.
// Against the composed ops (matmul, add, gelu, add) this saves a pass over memory per operation
// forward, the second exp of GELU's derivative, and the strided pass that turned the gradient
// of W^T into W's.
//
// Under autocast("bf16") the forward GEMM and the two of the backward (gW, gx) round their
// operands to bf16; the epilogue, gb and the residual's gradient stay float32 (Note [bf16
// products] in ../autocast.ts).
import { backend } from "../../backend/index.js";
import type { Activation, GemmParams } from "../../backend/backend.js";
import { formatShape, sameShape, ShapeError } from "../shape.js";
import { accumulateGrad, fromOp, isGradEnabled, type Tensor } from "../tensor.js";
import { uninitialized } from "../storage.js";
import { productsInBf16 } from "../autocast.js";

export interface LinearOptions {
  /** Applied after the bias and the residual ("none" by default). */
  activation?: Activation;
  /** Added before the activation, shaped like the output: a residual connection's other branch. */
  residual?: Tensor;
}

/** Row-major GEMM of (m x k) by (k x n), or its transposes, with contiguous operands. */
function gemmParams(m: number, n: number, k: number, transA: boolean, transB: boolean, bf16: boolean): GemmParams {
  return {
    transA, transB, m, n, k, alpha: 1, beta: 0,
    lda: transA ? m : k, ldb: transB ? k : n, ldc: n,
    batch: 1, offsetA: 0, offsetB: 0, offsetC: 0, strideA: 0, strideB: 0, strideC: 0, bf16,
  };
}

/**
 * act(x W^T + b + residual) over the last axis of x, in one GEMM (Note [fused linear backward]):
 * x (..., in), weight (out, in) as PyTorch stores it, bias (out) or null; the result is (..., out).
 * The same as composing matmul, add and the activation, up to float32 rounding.
 *
 * @example a GELU layer with a residual, against the composed ops
 * ```ts
 * import { add, gelu, linear, matmul, tensor, transpose } from "weft";
 *
 * const x = tensor([1, -2, 0.5, 3], [2, 2]);
 * const w = tensor([0.5, -1, 2, 0.25, -0.5, 1], [3, 2]);
 * const b = tensor([0.1, 0.2, -0.3], [3]);
 * const r = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
 * const fused = linear(x, w, b, { activation: "gelu", residual: r }).toArray();
 * const composed = gelu(add(add(matmul(x, transpose(w)), b), r)).toArray();
 * fused.forEach((v, i) => assert.ok(Math.abs(v - composed[i]!) < 1e-6));
 * ```
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null, options: LinearOptions = {}): Tensor {
  const activation = options.activation ?? "none";
  const residual = options.residual ?? null;
  if (weight.rank !== 2) throw new ShapeError(`linear: weight ${formatShape(weight.shape)} should be (out, in)`);
  const [outF, inF] = weight.shape as [number, number];
  if (x.rank < 1 || x.shape[x.rank - 1] !== inF) {
    throw new ShapeError(`linear: input ${formatShape(x.shape)} should end in ${inF}, the weight's in-features`);
  }
  if (bias && (bias.rank !== 1 || bias.size !== outF)) throw new ShapeError(`linear: bias ${formatShape(bias.shape)} should be [${outF}]`);
  const shape = [...x.shape.slice(0, -1), outF];
  if (residual && !sameShape(residual.shape, shape)) {
    throw new ShapeError(`linear: residual ${formatShape(residual.shape)} should be the output's shape ${formatShape(shape)}`);
  }
  const rows = x.size / inF;
  const bf16 = productsInBf16();
  const xd = x.dense(), wd = weight.dense();
  const out = uninitialized(rows * outF);
  const needsGrad = isGradEnabled() && [x, weight, bias, residual].some((t) => t?.requiresGrad === true);
  // GELU's derivative is kept for the backward; ReLU's is read off the output.
  const derivative = activation === "gelu" && needsGrad ? uninitialized(rows * outF) : null;
  backend().gemmEpilogue(gemmParams(rows, outF, inF, false, true, bf16), xd, wd, out, activation, bias?.dense() ?? null, residual?.dense() ?? null, derivative);
  const inputs = [x, weight, ...(bias ? [bias] : []), ...(residual ? [residual] : [])];
  return fromOp("linear", out, shape, inputs, (g) => {
    let gv = g;
    if (activation !== "none") {
      gv = uninitialized(g.length);
      if (derivative) backend().binary("mul", g, 0, UNIT, derivative, 0, UNIT, gv, Int32Array.of(g.length));
      else backend().unaryBackward("relu", out, out, g, gv, g.length);
    }
    if (bias?.requiresGrad) {
      const gb = uninitialized(outF);
      backend().reduce("sum", gv, gb, 1, rows, outF);
      accumulateGrad(bias, gb, true);
    }
    if (weight.requiresGrad) {
      const gw = uninitialized(outF * inF);
      backend().gemm(gemmParams(outF, inF, rows, true, false, bf16), gv, xd, gw);
      accumulateGrad(weight, gw, true);
    }
    if (x.requiresGrad) {
      const gx = uninitialized(rows * inF);
      backend().gemm(gemmParams(rows, inF, outF, false, false, bf16), gv, wd, gx);
      accumulateGrad(x, gx, true);
    }
    // Last: once handed over, gv may be accumulated into (when the residual is also x, just above).
    if (residual) accumulateGrad(residual, gv, gv !== g);
  }, derivative ? derivative.length * 4 : 0);
}

const UNIT = Int32Array.of(1);
