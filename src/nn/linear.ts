import { formatShape, ShapeError } from "../tensor/shape.js";
import { add, matmul, transpose, type Tensor } from "../tensor/index.js";
import { uniformParam } from "./init.js";
import { Module } from "./module.js";

/** y = x W^T + b, over the last axis of x. Weight (out, in) as in PyTorch, so checkpoints map one to one. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, options: { bias?: boolean } = {}) {
    super();
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.param("weight", uniformParam([outFeatures, inFeatures], bound));
    this.bias = options.bias === false ? null : this.param("bias", uniformParam([outFeatures], bound));
  }

  forward(x: Tensor): Tensor {
    if (x.shape[x.rank - 1] !== this.inFeatures) {
      throw new ShapeError(`Linear(${this.inFeatures} -> ${this.outFeatures}): input ${formatShape(x.shape)} should end in ${this.inFeatures}`);
    }
    const y = matmul(x, transpose(this.weight));
    return this.bias ? add(y, this.bias) : y;
  }
}
