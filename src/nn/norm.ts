import { batchNorm, layerNorm, Tensor } from "../tensor/index.js";
import { constantParam } from "./init.js";
import { Module } from "./module.js";

/** Normalises over the last axis, with a learned scale and shift. */
export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;

  constructor(readonly features: number, readonly eps = 1e-5) {
    super();
    this.weight = this.param("weight", constantParam([features], 1));
    this.bias = this.param("bias", constantParam([features], 0));
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/** Batch normalisation over the channels of (N, C) or (N, C, ...) (BatchNorm1d and BatchNorm2d in one). */
export class BatchNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;

  constructor(readonly channels: number, readonly options: { momentum?: number; eps?: number } = {}) {
    super();
    this.weight = this.param("weight", constantParam([channels], 1));
    this.bias = this.param("bias", constantParam([channels], 0));
    this.runningMean = this.buffer("running_mean", new Tensor(new Float32Array(channels), [channels]));
    this.runningVar = this.buffer("running_var", new Tensor(new Float32Array(channels).fill(1), [channels]));
  }

  forward(x: Tensor): Tensor {
    return batchNorm(x, this.weight, this.bias, {
      runningMean: this.runningMean.data,
      runningVar: this.runningVar.data,
      momentum: this.options.momentum ?? 0.1,
      eps: this.options.eps ?? 1e-5,
      training: this.training,
    });
  }
}
