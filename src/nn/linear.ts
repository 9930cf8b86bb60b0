import { formatShape, ShapeError } from "../tensor/shape.js";
import { linear, type LinearOptions, type Tensor } from "../tensor/index.js";
import { uniformParam } from "./init.js";
import { Module } from "./module.js";

/**
 * y = x W^T + b, over the last axis of x. Weight (out, in) as in PyTorch, so checkpoints map one to one.
 *
 * @example an activation and a residual folded into the layer's one GEMM
 * ```ts
 * import { add, gelu, Linear, manualSeed, randn, Rng } from "weft";
 *
 * manualSeed(0);
 * const fc = new Linear(4, 3);
 * const x = randn([2, 4], new Rng(1)), r = randn([2, 3], new Rng(2));
 * const fused = fc.forward(x, { activation: "gelu", residual: r }).toArray();
 * const composed = gelu(add(fc.forward(x), r)).toArray();
 * fused.forEach((v, i) => assert.ok(Math.abs(v - composed[i]!) < 1e-6));
 * ```
 */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, options: { bias?: boolean } = {}) {
    super();
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.param("weight", uniformParam([outFeatures, inFeatures], bound));
    this.bias = options.bias === false ? null : this.param("bias", uniformParam([outFeatures], bound));
  }

  /** x W^T + b, then `options.residual` added and `options.activation` applied, all in one GEMM (tensor/ops/linear.ts). */
  forward(x: Tensor, options: LinearOptions = {}): Tensor {
    if (x.shape[x.rank - 1] !== this.inFeatures) {
      throw new ShapeError(`Linear(${this.inFeatures} -> ${this.outFeatures}): input ${formatShape(x.shape)} should end in ${this.inFeatures}`);
    }
    return linear(x, this.weight, this.bias, options);
  }
}
