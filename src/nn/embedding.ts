import { indexSelect, type Tensor } from "../tensor/index.js";
import { normalParam } from "./init.js";
import { Module } from "./module.js";

/** A table of `count` learned vectors of `dim` values, looked up by integer index (N(0, 1) init, as PyTorch). */
export class Embedding extends Module {
  readonly weight: Tensor;

  constructor(readonly count: number, readonly dim: number) {
    super();
    this.weight = this.param("weight", normalParam([count, dim], 1));
  }

  /** Looks up `index` (shape `indexShape`) -> [...indexShape, dim]. */
  lookup(index: Int32Array, indexShape: readonly number[] = [index.length]): Tensor {
    return indexSelect(this.weight, index, indexShape);
  }

  forward(): Tensor {
    throw new Error(`Embedding(${this.count}, ${this.dim}) takes integer indices: call lookup(indices, shape)`);
  }
}
