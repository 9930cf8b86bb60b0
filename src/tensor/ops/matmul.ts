// Matrix products on the GEMM kernel. Transposed views are not copied: a matrix whose last two
// axes are a transposed layout is handed to GEMM with its trans flag, so x @ w.T (every Linear
// layer) and the backward products (g @ w, x.T @ g) run with no copies. Under autocast("bf16") the
// forward's products and both of its backward's round their operands to bf16 (Note [bf16
// products] in ../autocast.ts).
import { backend } from "../../backend/index.js";
import type { GemmParams } from "../../backend/backend.js";
import { broadcastShapes, broadcastStrides, contiguousStrides, formatShape, ShapeError, sizeOf, type Shape } from "../shape.js";
import { accumulateGrad, fromOp, Tensor, unrecorded } from "../tensor.js";
import { sumToShape } from "./elementwise.js";
import { reshape, squeeze, transpose } from "./shape-ops.js";
import { productsInBf16 } from "../autocast.js";
import { uninitialized } from "../storage.js";

/** How GEMM reads one matrix: leading dimension and whether it is stored transposed; null if neither fits. */
function matrixLayout(rows: number, cols: number, sr: number, sc: number): { ld: number; trans: boolean } | null {
  if ((cols === 1 || sc === 1) && (rows === 1 || sr >= cols)) return { ld: rows === 1 ? cols : sr, trans: false };
  if ((rows === 1 || sr === 1) && (cols === 1 || sc >= rows)) return { ld: cols === 1 ? rows : sc, trans: true };
  return null;
}

/** The single stride that steps through all matrices of `shape` in order, or null if there is none. */
function uniformStride(shape: Shape, strides: readonly number[]): number | null {
  let stride: number | null = null;
  let expected = 0;
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i]!;
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

/** t (shape [...batch, r, c]) read as a stack of `batchShape` matrices: storage, strides, layout. */
interface Operand {
  data: Float32Array;
  offset: number;
  strides: number[]; // over [...batchShape, r, c]
  ld: number;
  trans: boolean;
}

function operand(t: Tensor, batchShape: Shape): Operand {
  const r = t.shape[t.rank - 2]!, c = t.shape[t.rank - 1]!;
  const full = [...batchShape, r, c];
  const strides = broadcastStrides(t.shape, t.strides, full);
  const layout = matrixLayout(r, c, strides[full.length - 2]!, strides[full.length - 1]!);
  if (layout) return { data: t.data, offset: t.offset, strides, ...layout };
  // Neither layout fits (e.g. a gathered view): copy the stack once, contiguously.
  const out = uninitialized(sizeOf(full));
  backend().copyStrided(t.data, t.offset, Int32Array.from(strides), out, Int32Array.from(full));
  return { data: out, offset: 0, strides: contiguousStrides(full), ld: c, trans: false };
}

/**
 * out[b] = alpha * A[b] @ B[b] + beta * out[b] for every matrix of the broadcast batch.
 *
 * GEMM batches take one stride per operand. The longest run of trailing batch axes with a single
 * stride in both operands is one batched call; the leading axes left over are looped here. So the
 * per-head products of attention on (B, H, T, hs) views of a (B, T, 3D) projection run without
 * copying: B calls, each batched over the H heads.
 */
function gemmInto(a: Tensor, b: Tensor, batchShape: Shape, out: Float32Array, beta: number, alpha: number, bf16: boolean): void {
  const m = a.shape[a.rank - 2]!, k = a.shape[a.rank - 1]!, n = b.shape[b.rank - 1]!;
  const A = operand(a, batchShape), B = operand(b, batchShape);
  const nb = batchShape.length;
  let split = nb;
  while (
    split > 0 &&
    uniformStride(batchShape.slice(split - 1), A.strides.slice(split - 1, nb)) !== null &&
    uniformStride(batchShape.slice(split - 1), B.strides.slice(split - 1, nb)) !== null
  ) split--;
  const inner = batchShape.slice(split);
  const outer = batchShape.slice(0, split);
  const innerCount = sizeOf(inner);
  const p: GemmParams = {
    transA: A.trans, transB: B.trans, m, n, k, alpha, beta,
    lda: A.ld, ldb: B.ld, ldc: n, batch: innerCount,
    offsetA: A.offset, offsetB: B.offset, offsetC: 0,
    strideA: uniformStride(inner, A.strides.slice(split, nb))!,
    strideB: uniformStride(inner, B.strides.slice(split, nb))!,
    strideC: m * n, bf16,
  };
  const outerCount = sizeOf(outer);
  for (let o = 0; o < outerCount; o++) {
    let offA = A.offset, offB = B.offset;
    for (let i = split - 1, rest = o; i >= 0; i--) {
      const idx = rest % outer[i]!;
      rest = (rest - idx) / outer[i]!;
      offA += idx * A.strides[i]!;
      offB += idx * B.strides[i]!;
    }
    p.offsetA = offA;
    p.offsetB = offB;
    p.offsetC = o * innerCount * m * n;
    backend().gemm(p, A.data, B.data, out);
  }
}

/**
 * Matrix product with NumPy semantics for rank >= 2: a [..., m, k] @ b [..., k, n] -> [..., m, n],
 * batch axes broadcast. A 1-D operand is treated as a row (a) or column (b) vector. `alpha`
 * scales the product inside GEMM (attention's 1/sqrt(d) costs no extra pass).
 */
export function matmul(a: Tensor, b: Tensor, alpha = 1): Tensor {
  if (a.rank === 1) return squeeze(matmul(reshape(a, [1, a.size]), b, alpha), -2);
  if (b.rank === 1) return squeeze(matmul(a, reshape(b, [b.size, 1]), alpha), -1);
  const m = a.shape[a.rank - 2]!, k = a.shape[a.rank - 1]!, k2 = b.shape[b.rank - 2]!, n = b.shape[b.rank - 1]!;
  // Read once: the backward multiplies in the forward's precision, wherever it runs.
  const bf16 = productsInBf16();
  if (k !== k2) throw new ShapeError(`matmul: ${formatShape(a.shape)} @ ${formatShape(b.shape)}: inner sizes ${k} and ${k2} differ`);

  // (..., m, k) @ (k, n) with contiguous rows in a: one big GEMM over all rows at once.
  if (b.rank === 2 && a.rank > 2 && a.isContiguous()) {
    const rows = a.size / k;
    const a2 = new Tensor(a.data, [rows, k], [k, 1], a.offset);
    const out = uninitialized(rows * n);
    gemmInto(a2, b, [], out, 0, alpha, bf16);
    const shape = [...a.shape.slice(0, -1), n];
    return fromOp("matmul", out, shape, [a, b], (g) => {
      const g2 = new Tensor(g, [rows, n]);
      if (a.requiresGrad) {
        const ga = uninitialized(rows * k);
        gemmInto(g2, transpose(unrecorded(b)), [], ga, 0, alpha, bf16);
        accumulateGrad(a, ga, true);
      }
      if (b.requiresGrad) {
        const gb = uninitialized(k * n);
        gemmInto(transpose(a2), g2, [], gb, 0, alpha, bf16);
        accumulateGrad(b, gb, true);
      }
    });
  }

  const batchShape = broadcastShapes("matmul", a.shape.slice(0, -2), b.shape.slice(0, -2));
  const shape = [...batchShape, m, n];
  const out = uninitialized(sizeOf(shape));
  gemmInto(a, b, batchShape, out, 0, alpha, bf16);
  return fromOp("matmul", out, shape, [a, b], (g) => {
    const gt = new Tensor(g, shape);
    if (a.requiresGrad) {
      const ga = uninitialized(sizeOf([...batchShape, m, k]));
      gemmInto(gt, transpose(unrecorded(b)), batchShape, ga, 0, alpha, bf16);
      const r = sumToShape(ga, [...batchShape, m, k], a.shape);
      accumulateGrad(a, r.data, true);
    }
    if (b.requiresGrad) {
      const gb = uninitialized(sizeOf([...batchShape, k, n]));
      gemmInto(transpose(unrecorded(a)), gt, batchShape, gb, 0, alpha, bf16);
      const r = sumToShape(gb, [...batchShape, k, n], b.shape);
      accumulateGrad(b, r.data, true);
    }
  });
}
