import { avgPool2d, maxPool2d, type Pool2dOptions, type Tensor } from "../tensor/index.js";
import { Module } from "./module.js";

export class MaxPool2d extends Module {
  constructor(readonly options: Pool2dOptions) {
    super();
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.options);
  }
}

export class AvgPool2d extends Module {
  constructor(readonly options: Pool2dOptions) {
    super();
  }
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.options);
  }
}
