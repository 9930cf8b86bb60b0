// A Linear layer split by output features (Megatron's ColumnParallelLinear): y = x W^T + b with
// W (out, in) cut into row ranges, one per rank, and b with it. Each rank computes its own range
// of the output features from the whole (replicated) input, which it reads through f, so the
// input's gradient is summed over the group in backward. The output stays split: the layer after
// it (a row-parallel one, the attention of the rank's heads, or the vocabulary-parallel loss)
// consumes the rank's features as they are, with no communication in between.
//
// Note [qkv as three blocks]
// The attention's qkv projection stacks three (D, D) matrices, q's rows then k's then v's, and a
// rank needs the rows of its own heads in each. `blocks` = 3 sees the weight (3D, D) as
// (3, D, D), the same elements in the same row-major order, and takes the rank's range along the
// middle axis: one range in that view, three in the weight's own. The placement (and so the
// rank's TensorSlice in a sharded checkpoint) is therefore in the (3, D, D) view, and the bias's
// in the (3, D) view; a reader of those slices reshapes the assembled tensor to (3D, D) / (3D),
// which changes no element.
import { formatShape, ShapeError } from "../../tensor/shape.js";
import { add, matmul, transpose, type Tensor } from "../../tensor/index.js";
import { Module, type Linear } from "../../nn/index.js";
import { copyToTensorParallel, type TensorParallelComm } from "./operators.js";
import { rangeOf, sliceOf } from "./slices.js";
import type { SplitPlacement } from "./tensor-parallel-model.js";

export class ColumnParallelLinear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly inFeatures: number;
  /** This rank's output features: `blocks` × its range of each block. */
  readonly localOut: number;
  /** This rank's range of each block's features (of the output features when `blocks` is 1). */
  readonly range: { start: number; end: number };

  /** `full`'s rank-`comm.rank` slice; the output features seen as `blocks` equal blocks, each split (Note [qkv as three blocks]). */
  constructor(full: Linear, private readonly comm: TensorParallelComm, blocks = 1) {
    super();
    const { inFeatures, outFeatures } = full;
    if (outFeatures % blocks !== 0) throw new RangeError(`ColumnParallelLinear: ${outFeatures} output features are not ${blocks} equal blocks`);
    const per = outFeatures / blocks;
    if (per < comm.size) throw new RangeError(`ColumnParallelLinear: ${per} output features cannot be split across ${comm.size} ranks; use fewer ranks`);
    this.inFeatures = inFeatures;
    this.range = rangeOf(per, comm.size, comm.rank);
    const width = this.range.end - this.range.start;
    this.localOut = blocks * width;
    const split = (shape: number[]): SplitPlacement =>
      blocks === 1 ? { shape, dim: 0, ...this.range } : { shape: [blocks, ...shape.map((d, i) => (i === 0 ? d / blocks : d))], dim: 1, ...this.range };
    this.weight = this.param("weight", sliceOf(full.weight, split([outFeatures, inFeatures]), [this.localOut, inFeatures]));
    this.bias = full.bias ? this.param("bias", sliceOf(full.bias, split([outFeatures]), [this.localOut])) : null;
  }

  /** x (..., in), replicated -> this rank's output features (..., localOut). */
  forward(x: Tensor): Tensor {
    if (x.shape[x.rank - 1] !== this.inFeatures) {
      throw new ShapeError(`ColumnParallelLinear(${this.inFeatures} -> ${this.localOut} of the outputs): input ${formatShape(x.shape)} should end in ${this.inFeatures}`);
    }
    const y = matmul(copyToTensorParallel(x, this.comm), transpose(this.weight));
    return this.bias ? add(y, this.bias) : y;
  }
}
