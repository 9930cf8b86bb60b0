// Causal multi-head self-attention, GPT style: one projection makes q, k and v; each position
// attends to itself and earlier positions only.
import { formatShape, ShapeError } from "../tensor/shape.js";
import { permute, reshape, scaledDotProductAttention, split, Tensor, transpose } from "../tensor/index.js";
import { Linear } from "./linear.js";
import { Module } from "./module.js";

const masks = new Map<number, Tensor>();
/**
 * (T, T) additive mask: 0 on and below the diagonal, -inf above (the future), for attention
 * composed of separate ops (scaledDotProductAttention masks without one). Cached per T.
 */
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

/**
 * Multi-head causal self-attention over (B, T, D): the qkv projection, the fused attention of
 * every head (scaledDotProductAttention), the output projection.
 *
 * @example a position's output does not depend on later positions
 * ```ts
 * import { CausalSelfAttention, manualSeed, randn, Rng } from "weft";
 *
 * manualSeed(0);
 * const attn = new CausalSelfAttention(8, 2);
 * const x = randn([1, 3, 8], new Rng(1));
 * const y = attn.forward(x).toArray();
 * x.data[2 * 8] += 5; // change the last position only
 * const y2 = attn.forward(x).toArray();
 * for (let i = 0; i < 2 * 8; i++) assert.ok(Math.abs(y[i]! - y2[i]!) < 1e-6);
 * assert.ok(Math.abs(y[2 * 8]! - y2[2 * 8]!) > 1e-4);
 * ```
 */
export class CausalSelfAttention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;

  constructor(readonly dim: number, readonly heads: number) {
    super();
    if (dim % heads !== 0) throw new RangeError(`CausalSelfAttention: dim ${dim} is not divisible by ${heads} heads`);
    this.qkv = this.child("qkv", new Linear(dim, 3 * dim));
    this.proj = this.child("proj", new Linear(dim, dim));
  }

  /** x (B, T, D) -> (B, T, D), plus `options.residual` (B, T, D) when given, added by the output projection's GEMM. */
  forward(x: Tensor, options: { residual?: Tensor } = {}): Tensor {
    if (x.rank !== 3 || x.shape[2] !== this.dim) {
      throw new ShapeError(`CausalSelfAttention(${this.dim}): expected (B, T, ${this.dim}), got ${formatShape(x.shape)}`);
    }
    const [b, t, d] = x.shape as [number, number, number];
    const hs = d / this.heads;
    // (B, T, 3D) -> (B, 3H, T, hs), a view, whose three runs of H heads are q, k and v: the
    // kernel reads them in place (a reshape of each D-wide column block would copy it).
    const h = this.heads;
    const heads = permute(reshape(this.qkv.forward(x), [b, t, 3 * h, hs]), [0, 2, 1, 3]);
    const [q, k, v] = split(heads, [h, h, h], 1) as [Tensor, Tensor, Tensor];
    const y = scaledDotProductAttention(q, k, v, { causal: true }); // (B, H, T, hs), stored (B, T, H, hs)
    return this.proj.forward(reshape(transpose(y, 1, 2), [b, t, d]), options); // a view, no copy
  }
}
