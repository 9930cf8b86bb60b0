// Reference scaled dot-product attention (Note [attention layouts] in backend.ts): the same
// algorithm as the native kernels, one query row at a time, in float64. The forward keeps each
// row's log-sum-exp; the backward rebuilds the probabilities from it instead of storing them:
//   p_ij = exp(scale * q_i·k_j - lse_i)                  (0 for j > i when causal)
//   D_i  = dy_i·y_i                                      (= sum_j p_ij dp_ij, the softmax's dot)
//   dv_j = sum_i p_ij dy_i,   dp_ij = dy_i·v_j,   ds_ij = p_ij (dp_ij - D_i)
//   dq_i = scale sum_j ds_ij k_j,   dk_j = scale sum_i ds_ij q_i
import type { AttentionParams, Backend } from "../backend.js";

type AttentionKernels = Pick<Backend, "attention" | "attentionBackward">;

/** Where row t of head (b, h) starts in each operand. */
function rowStarts(p: AttentionParams, b: number, h: number) {
  const H = p.heads, hs = p.headSize;
  return {
    q: (t: number) => p.qOffset + b * p.qStrideB + h * p.qStrideH + t * p.qStrideT,
    k: (t: number) => p.kOffset + b * p.kStrideB + h * p.kStrideH + t * p.kStrideT,
    v: (t: number) => p.vOffset + b * p.vStrideB + h * p.vStrideH + t * p.vStrideT,
    /** y and gy: (B, tq, H, hs). */
    y: (t: number) => ((b * p.tq + t) * H + h) * hs,
    /** gq: (B, H, tq, hs); gk and gv: (B, H, tk, hs). */
    gq: (t: number) => ((b * H + h) * p.tq + t) * hs,
    gkv: (t: number) => ((b * H + h) * p.tk + t) * hs,
    lse: (t: number) => (b * H + h) * p.tq + t,
  };
}

function dot(x: Float32Array, xi: number, y: Float32Array, yi: number, n: number): number {
  let s = 0;
  for (let d = 0; d < n; d++) s += x[xi + d]! * y[yi + d]!;
  return s;
}

/** Keys 0..keysSeen(p, i)-1 are visible to query i. */
function keysSeen(p: AttentionParams, i: number): number {
  return p.causal ? Math.min(i + 1, p.tk) : p.tk;
}

/** Calls visit(b, h) for every head of the batch. */
function forEachHead(p: AttentionParams, visit: (b: number, h: number) => void): void {
  for (let b = 0; b < p.batch; b++) for (let h = 0; h < p.heads; h++) visit(b, h);
}

export const attentionKernels: AttentionKernels = {
  attention(p, q, k, v, y, lse) {
    const hs = p.headSize;
    const scores = new Float64Array(p.tk);
    const acc = new Float64Array(hs);
    forEachHead(p, (b, h) => {
      const at = rowStarts(p, b, h);
      for (let i = 0; i < p.tq; i++) {
        const n = keysSeen(p, i);
        let max = -Infinity;
        for (let j = 0; j < n; j++) {
          scores[j] = p.scale * dot(q, at.q(i), k, at.k(j), hs);
          max = Math.max(max, scores[j]!);
        }
        let sum = 0;
        acc.fill(0);
        for (let j = 0; j < n; j++) {
          const e = Math.exp(scores[j]! - max);
          sum += e;
          for (let d = 0; d < hs; d++) acc[d] += e * v[at.v(j) + d]!;
        }
        // A row that sees no key (tk == 0) attends to nothing: y = 0, lse = -inf.
        for (let d = 0; d < hs; d++) y[at.y(i) + d] = sum > 0 ? acc[d]! / sum : 0;
        lse[at.lse(i)] = sum > 0 ? max + Math.log(sum) : -Infinity;
      }
    });
  },

  attentionBackward(p, q, k, v, y, lse, gy, gq, gk, gv) {
    const hs = p.headSize;
    const gkAcc = new Float64Array(p.tk * hs), gvAcc = new Float64Array(p.tk * hs), gqAcc = new Float64Array(hs);
    forEachHead(p, (b, h) => {
      const at = rowStarts(p, b, h);
      gkAcc.fill(0);
      gvAcc.fill(0);
      for (let i = 0; i < p.tq; i++) {
        const D = dot(gy, at.y(i), y, at.y(i), hs);
        gqAcc.fill(0);
        for (let j = 0; j < keysSeen(p, i); j++) {
          const pij = Math.exp(p.scale * dot(q, at.q(i), k, at.k(j), hs) - lse[at.lse(i)]!);
          const ds = pij * (dot(gy, at.y(i), v, at.v(j), hs) - D) * p.scale;
          for (let d = 0; d < hs; d++) {
            gvAcc[j * hs + d] += pij * gy[at.y(i) + d]!;
            gqAcc[d] += ds * k[at.k(j) + d]!;
            gkAcc[j * hs + d] += ds * q[at.q(i) + d]!;
          }
        }
        gq.set(gqAcc, at.gq(i));
      }
      gk.set(gkAcc, at.gkv(0));
      gv.set(gvAcc, at.gkv(0));
    });
  },
};
