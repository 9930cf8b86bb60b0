import { dropout, type Tensor } from "../tensor/index.js";
import { initRng } from "./init.js";
import { Module } from "./module.js";

/** Zeroes each element with probability p while training (scaling the rest by 1/(1-p)); identity in eval. */
export class Dropout extends Module {
  constructor(readonly p: number) {
    super();
    if (!(p >= 0 && p < 1)) throw new RangeError(`Dropout: p must be in [0, 1), got ${p}`);
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    return dropout(x, this.p, initRng().nextU32());
  }
}
