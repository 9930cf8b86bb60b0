// A Linear layer split by input features (Megatron's RowParallelLinear): y = x W^T + b with W
// (out, in) cut into column ranges. Each rank holds the input features of its range (the output
// of a column-parallel layer, or of its attention heads, as they are) and computes a partial
// product of the whole output's shape; g sums the partials over the group, and the bias, held
// whole by every rank, is added once, after the sum (added before it, it would count T times).
import { formatShape, ShapeError } from "../../tensor/shape.js";
import { add, matmul, transpose, type Tensor } from "../../tensor/index.js";
import { Module, type Linear } from "../../nn/index.js";
import { reduceFromTensorParallel, type TensorParallelComm } from "./operators.js";
import { rangeOf, sliceOf } from "./slices.js";

export class RowParallelLinear extends Module {
  readonly weight: Tensor;
  /** The full model's bias itself: replicated. */
  readonly bias: Tensor | null;
  readonly outFeatures: number;
  /** This rank's range of the input features. */
  readonly range: { start: number; end: number };

  constructor(full: Linear, private readonly comm: TensorParallelComm) {
    super();
    const { inFeatures, outFeatures } = full;
    if (inFeatures < comm.size) throw new RangeError(`RowParallelLinear: ${inFeatures} input features cannot be split across ${comm.size} ranks; use fewer ranks`);
    this.outFeatures = outFeatures;
    this.range = rangeOf(inFeatures, comm.size, comm.rank);
    const width = this.range.end - this.range.start;
    this.weight = this.param("weight", sliceOf(full.weight, { shape: [outFeatures, inFeatures], dim: 1, ...this.range }, [outFeatures, width]));
    this.bias = full.bias ? this.param("bias", full.bias) : null;
  }

  /** x (..., this rank's input features) -> y (..., out), the same on every rank. */
  forward(x: Tensor): Tensor {
    const width = this.range.end - this.range.start;
    if (x.shape[x.rank - 1] !== width) {
      throw new ShapeError(`RowParallelLinear(${width} of the inputs -> ${this.outFeatures}): input ${formatShape(x.shape)} should end in ${width}`);
    }
    const y = reduceFromTensorParallel(matmul(x, transpose(this.weight)), this.comm);
    return this.bias ? add(y, this.bias) : y;
  }
}
