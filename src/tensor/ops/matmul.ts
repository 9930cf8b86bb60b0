// Matrix products on the GEMM kernel. Transposed views are not copied: a matrix whose last two
// axes are a transposed layout is handed to GEMM with its trans flag, so x @ w.T (every Linear
// layer) and the backward products (g @ w, x.T @ g) run with no copies.
import { backend } from "../../backend/index.js";
import type { GemmParams } from "../../backend/backend.js";
import { broadcastShapes, broadcastStrides, formatShape, ShapeError, sizeOf, type Shape } from "../shape.js";
import { accumulateGrad, fromOp, Tensor } from "../tensor.js";
import { sumToShape } from "./elementwise.js";
import { reshape, squeeze, transpose } from "./shape-ops.js";
import { uninitialized } from "../storage.js";

/** How GEMM reads a stack of matrices: storage offset, leading dimension, transposed or not, stride between matrices. */
interface MatrixOperand {
  data: Float32Array;
  offset: number;
  ld: number;
  trans: boolean;
  batchStride: number;
}

/**
 * Describes t (shape [...batch, r, c], broadcast to `batchShape`) for GEMM, copying it only when
 * its layout cannot be described by one leading dimension and one batch stride.
 */
function operand(t: Tensor, batchShape: Shape): MatrixOperand {
  const r = t.shape[t.rank - 2]!, c = t.shape[t.rank - 1]!;
  const full = [...batchShape, r, c];
  const strides = broadcastStrides(t.shape, t.strides, full);
  const sr = strides[full.length - 2]!, sc = strides[full.length - 1]!;
  const batchStride = uniformBatchStride(batchShape, strides.slice(0, batchShape.length));
  if (batchStride !== null) {
    if ((c === 1 || sc === 1) && (r === 1 || sr >= c)) {
      return { data: t.data, offset: t.offset, ld: r === 1 ? c : sr, trans: false, batchStride };
    }
    if ((r === 1 || sr === 1) && (c === 1 || sc >= r)) {
      return { data: t.data, offset: t.offset, ld: c === 1 ? r : sc, trans: true, batchStride };
    }
  }
  // Irregular layout: materialise the broadcast stack contiguously.
  const out = uninitialized(sizeOf(full));
  backend().copyStrided(t.data, t.offset, Int32Array.from(strides), out, Int32Array.from(full));
  return { data: out, offset: 0, ld: c, trans: false, batchStride: r * c };
}

/** The single stride that steps through all batch matrices in order, or null if there is none. */
function uniformBatchStride(batchShape: Shape, strides: readonly number[]): number | null {
  let stride: number | null = null;
  let expected = 0;
  for (let i = batchShape.length - 1; i >= 0; i--) {
    const d = batchShape[i]!;
    if (d === 1) continue;
    const s = strides[i]!;
    if (stride === null) {
      stride = s;
      expected = s * d;
    } else if (s === expected) {
      expected = s * d;
    } else {
      return null;
    }
  }
  return stride ?? 0;
}

/** out[b] = alpha * A[b] @ B[b] (+ beta * out[b]) for every matrix of the broadcast batch. */
function gemmInto(a: Tensor, b: Tensor, batchShape: Shape, out: Float32Array, beta: number): void {
  const m = a.shape[a.rank - 2]!, k = a.shape[a.rank - 1]!, n = b.shape[b.rank - 1]!;
  const A = operand(a, batchShape), B = operand(b, batchShape);
  const p: GemmParams = {
    transA: A.trans, transB: B.trans, m, n, k, alpha: 1, beta,
    lda: A.ld, ldb: B.ld, ldc: n, batch: sizeOf(batchShape),
    offsetA: A.offset, offsetB: B.offset, offsetC: 0,
    strideA: A.batchStride, strideB: B.batchStride, strideC: m * n,
  };
  backend().gemm(p, A.data, B.data, out);
}

/**
 * Matrix product with NumPy semantics for rank >= 2: a [..., m, k] @ b [..., k, n] -> [..., m, n],
 * batch axes broadcast. A 1-D operand is treated as a row (a) or column (b) vector.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.rank === 1) return squeeze(matmul(reshape(a, [1, a.size]), b), -2);
  if (b.rank === 1) return squeeze(matmul(a, reshape(b, [b.size, 1])), -1);
  const m = a.shape[a.rank - 2]!, k = a.shape[a.rank - 1]!, k2 = b.shape[b.rank - 2]!, n = b.shape[b.rank - 1]!;
  if (k !== k2) throw new ShapeError(`matmul: ${formatShape(a.shape)} @ ${formatShape(b.shape)}: inner sizes ${k} and ${k2} differ`);

  // (..., m, k) @ (k, n) with contiguous rows in a: one big GEMM over all rows at once.
  if (b.rank === 2 && a.rank > 2 && a.isContiguous()) {
    const rows = a.size / k;
    const a2 = new Tensor(a.data, [rows, k], [k, 1], a.offset);
    const out = uninitialized(rows * n);
    gemmInto(a2, b, [], out, 0);
    const shape = [...a.shape.slice(0, -1), n];
    return fromOp("matmul", out, shape, [a, b], (g) => {
      const g2 = new Tensor(g, [rows, n]);
      if (a.requiresGrad) {
        const ga = uninitialized(rows * k);
        gemmInto(g2, transpose(b.detach()), [], ga, 0);
        accumulateGrad(a, ga, true);
      }
      if (b.requiresGrad) {
        const gb = uninitialized(k * n);
        gemmInto(transpose(a2), g2, [], gb, 0);
        accumulateGrad(b, gb, true);
      }
    });
  }

  const batchShape = broadcastShapes("matmul", a.shape.slice(0, -2), b.shape.slice(0, -2));
  const shape = [...batchShape, m, n];
  const out = uninitialized(sizeOf(shape));
  gemmInto(a, b, batchShape, out, 0);
  return fromOp("matmul", out, shape, [a, b], (g) => {
    const gt = new Tensor(g, shape);
    if (a.requiresGrad) {
      const ga = uninitialized(sizeOf([...batchShape, m, k]));
      gemmInto(gt, transpose(b.detach()), batchShape, ga, 0);
      const r = sumToShape(ga, [...batchShape, m, k], a.shape);
      accumulateGrad(a, r.data, true);
    }
    if (b.requiresGrad) {
      const gb = uninitialized(sizeOf([...batchShape, k, n]));
      gemmInto(transpose(a.detach()), gt, batchShape, gb, 0);
      const r = sumToShape(gb, [...batchShape, k, n], b.shape);
      accumulateGrad(b, r.data, true);
    }
  });
}
