import { conv1d, conv2d, type Tensor } from "../tensor/index.js";
import { formatShape } from "../tensor/shape.js";
import { uniformParam } from "./init.js";
import { Module } from "./module.js";

export interface ConvOptions {
  stride?: number;
  padding?: number;
  bias?: boolean;
}

/** 2-D convolution over (N, C, H, W). */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernel: number, readonly options: ConvOptions = {}) {
    super();
    const bound = 1 / Math.sqrt(inChannels * kernel * kernel);
    this.weight = this.param("weight", uniformParam([outChannels, inChannels, kernel, kernel], bound));
    this.bias = options.bias === false ? null : this.param("bias", uniformParam([outChannels], bound));
  }

  forward(x: Tensor): Tensor {
    if (x.rank !== 4 || x.shape[1] !== this.inChannels) {
      throw new Error(`Conv2d(${this.inChannels} -> ${this.outChannels}): expected input (N, ${this.inChannels}, H, W), got ${formatShape(x.shape)}`);
    }
    return conv2d(x, this.weight, this.bias, { stride: this.options.stride ?? 1, padding: this.options.padding ?? 0 });
  }
}

/** 1-D convolution over (N, C, L). */
export class Conv1d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernel: number, readonly options: ConvOptions = {}) {
    super();
    const bound = 1 / Math.sqrt(inChannels * kernel);
    this.weight = this.param("weight", uniformParam([outChannels, inChannels, kernel], bound));
    this.bias = options.bias === false ? null : this.param("bias", uniformParam([outChannels], bound));
  }

  forward(x: Tensor): Tensor {
    if (x.rank !== 3 || x.shape[1] !== this.inChannels) {
      throw new Error(`Conv1d(${this.inChannels} -> ${this.outChannels}): expected input (N, ${this.inChannels}, L), got ${formatShape(x.shape)}`);
    }
    return conv1d(x, this.weight, this.bias, { stride: this.options.stride ?? 1, padding: this.options.padding ?? 0 });
  }
}
