// A pre-LayerNorm transformer block (nn/transformer.ts) split across the group: attention by
// heads (parallel-attention.ts), the MLP as Megatron's ParallelMLP, fc column-parallel (each rank
// its range of the 4D hidden features, GELU applied to them where they are) and out row-parallel.
// The layer norms and the residual stream are replicated (Note [replicas stay bitwise equal
// across the group] in operators.ts): the block's LayerNorm modules are the full model's own.
// Two all-reduces forward (g after attention and after the MLP) and two backward (f before each).
import { add, gelu, type Tensor } from "../../tensor/index.js";
import { Module, type LayerNorm, type TransformerBlock } from "../../nn/index.js";
import { ColumnParallelLinear } from "./column-parallel-linear.js";
import type { TensorParallelComm } from "./operators.js";
import { ParallelAttention } from "./parallel-attention.js";
import { RowParallelLinear } from "./row-parallel-linear.js";

export class ParallelBlock extends Module {
  readonly ln1: LayerNorm;
  readonly attn: ParallelAttention;
  readonly ln2: LayerNorm;
  readonly fc: ColumnParallelLinear;
  readonly out: RowParallelLinear;

  constructor(full: TransformerBlock, comm: TensorParallelComm) {
    super();
    this.ln1 = this.child("ln1", full.ln1);
    this.attn = this.child("attn", new ParallelAttention(full.attn, comm));
    this.ln2 = this.child("ln2", full.ln2);
    this.fc = this.child("fc", new ColumnParallelLinear(full.fc, comm));
    this.out = this.child("out", new RowParallelLinear(full.out, comm));
  }

  /** x (B, T, D) -> (B, T, D), replicated. */
  forward(x: Tensor): Tensor {
    const h = add(x, this.attn.forward(this.ln1.forward(x)));
    return add(h, this.out.forward(gelu(this.fc.forward(this.ln2.forward(h)))));
  }
}
