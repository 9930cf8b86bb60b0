// Causal multi-head self-attention, GPT style: one projection makes q, k and v; each position
// attends to itself and earlier positions only.
import { formatShape, ShapeError } from "../tensor/shape.js";
import {
  add, matmul, permute, reshape, softmax, split, Tensor, transpose,
} from "../tensor/index.js";
import { Linear } from "./linear.js";
import { Module } from "./module.js";

/** (T, T) additive mask: 0 on and below the diagonal, -inf above (the future). Cached per T. */
const masks = new Map<number, Tensor>();
export function causalMask(t: number): Tensor {
  let m = masks.get(t);
  if (!m) {
    const data = new Float32Array(t * t);
    for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) data[i * t + j] = -Infinity;
    m = new Tensor(data, [t, t]);
    masks.set(t, m);
  }
  return m;
}

export class CausalSelfAttention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;

  constructor(readonly dim: number, readonly heads: number) {
    super();
    if (dim % heads !== 0) throw new RangeError(`CausalSelfAttention: dim ${dim} is not divisible by ${heads} heads`);
    this.qkv = this.child("qkv", new Linear(dim, 3 * dim));
    this.proj = this.child("proj", new Linear(dim, dim));
  }

  /** x (B, T, D) -> (B, T, D). */
  forward(x: Tensor): Tensor {
    if (x.rank !== 3 || x.shape[2] !== this.dim) {
      throw new ShapeError(`CausalSelfAttention(${this.dim}): expected (B, T, ${this.dim}), got ${formatShape(x.shape)}`);
    }
    const [b, t, d] = x.shape as [number, number, number];
    const hs = d / this.heads;
    // (B, T, D) each -> (B, H, T, hs): views of the projection, which GEMM reads in place.
    const [q, k, v] = split(this.qkv.forward(x), [d, d, d], 2).map((z) =>
      permute(reshape(z, [b, t, this.heads, hs]), [0, 2, 1, 3]),
    ) as [Tensor, Tensor, Tensor];
    const scores = add(matmul(q, transpose(k), 1 / Math.sqrt(hs)), causalMask(t)); // (B, H, T, T)
    const y = matmul(softmax(scores), v); // (B, H, T, hs)
    return this.proj.forward(reshape(transpose(y, 1, 2), [b, t, d]));
  }
}
