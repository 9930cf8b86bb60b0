// Scaled dot-product attention as one fused operation: softmax(scale * q k^T [+ causal mask]) v
// over all heads of a batch, forward and backward each one kernel call (Note [attention layouts]
// in backend/backend.ts). It equals the composition matmul, add(mask), softmax, matmul, but keeps
// no (T, T) matrix: the backward recomputes the probabilities from q, k and a saved log-sum-exp.
import { backend } from "../../backend/index.js";
import type { AttentionParams } from "../../backend/backend.js";
import { formatShape, ShapeError } from "../shape.js";
import { accumulateGrad, fromOp, Tensor } from "../tensor.js";
import { uninitialized } from "../storage.js";
import { permute } from "./shape-ops.js";

export interface AttentionOptions {
  /** Query t attends to keys 0..t only (PyTorch's is_causal). Default false. */
  causal?: boolean;
  /** Multiplies q·k before the softmax. Default 1 / sqrt(head size). */
  scale?: number;
}

/** x itself when its rows (the last axis) are contiguous, which is all the kernels need; else a copy. */
function rowsContiguous(x: Tensor): Tensor {
  return x.shape[3]! <= 1 || x.strides[3] === 1 ? x : x.contiguous();
}

function checkShapes(q: Tensor, k: Tensor, v: Tensor): void {
  const named = [["q", q], ["k", k], ["v", v]] as const;
  for (const [name, t] of named) {
    if (t.rank !== 4) {
      throw new ShapeError(`scaledDotProductAttention: ${name} ${formatShape(t.shape)} should be (batch, heads, time, headSize); reshape it to rank 4`);
    }
  }
  const [b, h, , hs] = q.shape as [number, number, number, number];
  const tk = k.shape[2]!;
  const want = [b, h, tk, hs];
  for (const [name, t] of named.slice(1)) {
    if (t.shape.some((d, i) => d !== want[i])) {
      throw new ShapeError(`scaledDotProductAttention: ${name} ${formatShape(t.shape)} does not fit q ${formatShape(q.shape)}; expected ${formatShape(want)}`);
    }
  }
}

/**
 * softmax(scale · q kᵀ) v per (batch, head), with the causal mask when `causal`, as PyTorch's
 * `scaled_dot_product_attention`. q is (B, H, Tq, hs), k and v (B, H, Tk, hs), any strides (a
 * view of a fused qkv projection is read in place). Returns (B, H, Tq, hs), stored as
 * (B, Tq, H, hs): `reshape(transpose(y, 1, 2), [B, Tq, H * hs])` is a free view.
 *
 * @example one causal head: query 0 sees key 0 alone, query 1 averages both values by softmax weight
 * ```ts
 * import { scaledDotProductAttention, tensor } from "weft";
 *
 * const q = tensor([1, 0, 0, 1], [1, 1, 2, 2]); // (B, H, T, hs)
 * const k = tensor([1, 0, 0, 1], [1, 1, 2, 2]);
 * const v = tensor([1, 2, 3, 4], [1, 1, 2, 2]);
 * const y = scaledDotProductAttention(q, k, v, { causal: true }).toArray();
 * const w = 1 / (1 + Math.exp(-Math.SQRT1_2)); // softmax([0, 1/√2])[1]
 * [1, 2, 1 + 2 * w, 2 + 2 * w].forEach((e, i) => assert.ok(Math.abs(y[i]! - e) < 1e-6));
 * ```
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  checkShapes(q, k, v);
  const [batch, heads, tq, headSize] = q.shape as [number, number, number, number];
  const tk = k.shape[2]!;
  const scale = options.scale ?? 1 / Math.sqrt(headSize);
  if (!(scale > 0 && Number.isFinite(scale))) {
    throw new RangeError(`scaledDotProductAttention: scale must be a positive finite number, got ${scale}`);
  }
  const [qc, kc, vc] = [q, k, v].map(rowsContiguous) as [Tensor, Tensor, Tensor];
  const p: AttentionParams = {
    batch, heads, tq, tk, headSize, scale, causal: options.causal ?? false,
    qOffset: qc.offset, qStrideB: qc.strides[0]!, qStrideH: qc.strides[1]!, qStrideT: qc.strides[2]!,
    kOffset: kc.offset, kStrideB: kc.strides[0]!, kStrideH: kc.strides[1]!, kStrideT: kc.strides[2]!,
    vOffset: vc.offset, vStrideB: vc.strides[0]!, vStrideH: vc.strides[1]!, vStrideT: vc.strides[2]!,
  };
  const y = uninitialized(batch * tq * heads * headSize);
  const lse = uninitialized(batch * heads * tq);
  backend().attention(p, qc.data, kc.data, vc.data, y, lse);
  const merged = fromOp("scaledDotProductAttention", y, [batch, tq, heads, headSize], [qc, kc, vc], (g) => {
    const gq = uninitialized(q.size), gk = uninitialized(k.size), gv = uninitialized(v.size);
    backend().attentionBackward(p, qc.data, kc.data, vc.data, y, lse, g, gq, gk, gv);
    accumulateGrad(qc, gq, true);
    accumulateGrad(kc, gk, true);
    accumulateGrad(vc, gv, true);
  });
  return permute(merged, [0, 2, 1, 3]);
}
