// A pre-LayerNorm transformer block: x + attn(ln1(x)), then x + mlp(ln2(x)) with a GELU MLP 4x wide.
import type { Tensor } from "../tensor/index.js";
import { CausalSelfAttention } from "./attention.js";
import { Linear } from "./linear.js";
import { Module } from "./module.js";
import { LayerNorm } from "./norm.js";

export class TransformerBlock extends Module {
  readonly ln1: LayerNorm;
  readonly attn: CausalSelfAttention;
  readonly ln2: LayerNorm;
  readonly fc: Linear;
  readonly out: Linear;

  constructor(dim: number, heads: number) {
    super();
    this.ln1 = this.child("ln1", new LayerNorm(dim));
    this.attn = this.child("attn", new CausalSelfAttention(dim, heads));
    this.ln2 = this.child("ln2", new LayerNorm(dim));
    this.fc = this.child("fc", new Linear(dim, 4 * dim));
    this.out = this.child("out", new Linear(4 * dim, dim));
  }

  /**
   * x (B, T, D) -> (B, T, D). Each residual add and the GELU are folded into the GEMM of the
   * projection before them (tensor/ops/linear.ts): the same sums, fewer passes over memory.
   */
  forward(x: Tensor): Tensor {
    const h = this.attn.forward(this.ln1.forward(x), { residual: x });
    return this.out.forward(this.fc.forward(this.ln2.forward(h), { activation: "gelu" }), { residual: h });
  }
}
