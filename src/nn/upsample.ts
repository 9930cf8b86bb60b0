// A layer form of nearest-neighbour upsampling (tensor/ops/upsample.ts), so a decoder can hold it
// beside its convolutions. It has no parameters.
import { upsampleNearest2d, type Tensor } from "../tensor/index.js";
import { Module } from "./module.js";

/**
 * Nearest-neighbour upsampling of (N, C, H, W) by an integer factor (PyTorch's
 * nn.Upsample(scale_factor=factor, mode="nearest")).
 *
 * @example Each pixel becomes a 2 x 2 block
 * ```ts
 * const up = new Upsample(2);
 * const y = up.forward(new Tensor(Float32Array.of(5, 7), [1, 1, 1, 2]));
 * assert.deepEqual([y.shape, y.toArray()], [[1, 1, 2, 4], [5, 5, 7, 7, 5, 5, 7, 7]]);
 * ```
 */
export class Upsample extends Module {
  constructor(readonly factor = 2) {
    super();
    if (!Number.isInteger(factor) || factor < 1) throw new RangeError(`Upsample: factor ${factor} must be a positive integer`);
  }

  forward(x: Tensor): Tensor {
    return upsampleNearest2d(x, this.factor);
  }
}
