// Causal self-attention with its heads split across the group (Megatron's ParallelAttention):
// the qkv projection is column-parallel, each rank taking the q, k and v rows of its own heads
// (Note [qkv as three blocks] in column-parallel-linear.ts), attention runs on the rank's heads
// in the fused kernel as in nn/attention.ts, with no communication at all, and the output
// projection is row-parallel: the rank's heads are its range of the projection's input
// features, summed over the group by g.
import { formatShape, ShapeError } from "../../tensor/shape.js";
import { permute, reshape, scaledDotProductAttention, split, transpose, type Tensor } from "../../tensor/index.js";
import { Module, type CausalSelfAttention } from "../../nn/index.js";
import { ColumnParallelLinear } from "./column-parallel-linear.js";
import type { TensorParallelComm } from "./operators.js";
import { RowParallelLinear } from "./row-parallel-linear.js";

export class ParallelAttention extends Module {
  readonly qkv: ColumnParallelLinear;
  readonly proj: RowParallelLinear;
  readonly dim: number;
  /** Heads on this rank, and their size. */
  readonly localHeads: number;
  readonly headSize: number;

  constructor(full: CausalSelfAttention, comm: TensorParallelComm) {
    super();
    const { dim, heads } = full;
    if (heads % comm.size !== 0) {
      throw new RangeError(`tensor parallelism over ${comm.size} ranks: the attention's ${heads} heads do not split evenly; use a tensor-parallel size that divides ${heads} (--tp ${divisors(heads).join(", ")})`);
    }
    this.dim = dim;
    this.headSize = dim / heads;
    this.localHeads = heads / comm.size;
    this.qkv = this.child("qkv", new ColumnParallelLinear(full.qkv, comm, 3));
    this.proj = this.child("proj", new RowParallelLinear(full.proj, comm));
  }

  /** x (B, T, D), replicated -> (B, T, D), replicated. */
  forward(x: Tensor): Tensor {
    if (x.rank !== 3 || x.shape[2] !== this.dim) {
      throw new ShapeError(`ParallelAttention(${this.dim}): expected (B, T, ${this.dim}), got ${formatShape(x.shape)}`);
    }
    const [b, t] = x.shape as [number, number, number];
    const hs = this.headSize;
    const dl = this.localHeads * hs; // this rank's share of D
    // (B, T, 3 dl) -> (B, 3 H/T, T, hs), a view whose three runs of heads are q, k and v, read in
    // place by the fused kernel as in nn/attention.ts.
    const lh = this.localHeads;
    const heads = permute(reshape(this.qkv.forward(x), [b, t, 3 * lh, hs]), [0, 2, 1, 3]);
    const [q, k, v] = split(heads, [lh, lh, lh], 1) as [Tensor, Tensor, Tensor];
    const y = scaledDotProductAttention(q, k, v, { causal: true }); // (B, H/T, T, hs), stored (B, T, H/T, hs)
    return this.proj.forward(reshape(transpose(y, 1, 2), [b, t, dl]));
  }
}

/** The divisors of n, for messages that list the sizes that would work. */
export function divisors(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1).filter((d) => n % d === 0);
}
