// An embedding table split by vocabulary (Megatron's VocabParallelEmbedding): rank r holds the
// rows of its range of token ids. A lookup fills the rows of the tokens in the rank's range and
// leaves the others zero; g sums over the group, and since exactly one rank holds each token's
// row, the sum is the row itself, exactly (x + 0 = x in floating point). Backward is local: g
// passes the gradient through, and each rank adds it into the rows of its own tokens.
import { formatShape, ShapeError } from "../../tensor/shape.js";
import { accumulateGrad, fromOp, type Tensor } from "../../tensor/tensor.js";
import { Module, type Embedding } from "../../nn/index.js";
import { reduceFromTensorParallel, type TensorParallelComm } from "./operators.js";
import { rangeOf, sliceOf } from "./slices.js";

export class VocabParallelEmbedding extends Module {
  readonly weight: Tensor;
  readonly count: number;
  readonly dim: number;
  /** This rank's range of token ids. */
  readonly range: { start: number; end: number };

  constructor(full: Embedding, private readonly comm: TensorParallelComm) {
    super();
    const { count, dim } = full;
    if (count < comm.size) throw new RangeError(`VocabParallelEmbedding: ${count} rows cannot be split across ${comm.size} ranks; use fewer ranks`);
    this.count = count;
    this.dim = dim;
    this.range = rangeOf(count, comm.size, comm.rank);
    this.weight = this.param("weight", sliceOf(full.weight, { shape: [count, dim], dim: 0, ...this.range }, [this.range.end - this.range.start, dim]));
  }

  /** Looks up `index` (shape `indexShape`) -> [...indexShape, dim], the same on every rank. */
  lookup(index: Int32Array, indexShape: readonly number[] = [index.length]): Tensor {
    if (indexShape.reduce((a, b) => a * b, 1) !== index.length) throw new ShapeError(`VocabParallelEmbedding: index shape ${formatShape(indexShape)} does not hold ${index.length} indices`);
    const { start, end } = this.range;
    const d = this.dim;
    const table = this.weight.dense();
    const out = new Float32Array(index.length * d); // zero: rows of other ranks' tokens
    for (let i = 0; i < index.length; i++) {
      const id = index[i]!;
      if (!(Number.isInteger(id) && id >= 0 && id < this.count)) throw new RangeError(`VocabParallelEmbedding: index ${id} at ${i} is not a row of the table (0..${this.count - 1})`);
      if (id >= start && id < end) out.set(table.subarray((id - start) * d, (id - start + 1) * d), i * d);
    }
    const partial = fromOp("vocabParallelLookup", out, [...indexShape, d], [this.weight], (g) => {
      const gt = new Float32Array(this.weight.size);
      for (let i = 0; i < index.length; i++) {
        const id = index[i]!;
        if (id < start || id >= end) continue;
        const row = (id - start) * d;
        for (let k = 0; k < d; k++) gt[row + k]! += g[i * d + k]!;
      }
      accumulateGrad(this.weight, gt, true);
    });
    return reduceFromTensorParallel(partial, this.comm);
  }

  forward(): Tensor {
    throw new Error(`VocabParallelEmbedding(${this.count}, ${this.dim}) takes integer indices: call lookup(indices, shape)`);
  }
}
