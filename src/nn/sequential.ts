import type { Tensor } from "../tensor/index.js";
import { Module } from "./module.js";

/** Runs its layers in order; parameters are named by position ("0.weight", "3.bias"). */
export class Sequential extends Module {
  readonly layers: readonly Module[];

  constructor(...layers: Module[]) {
    super();
    this.layers = layers.map((m, i) => this.child(String(i), m));
  }

  forward(x: Tensor): Tensor {
    return this.layers.reduce((h, layer) => layer.forward(h), x);
  }
}
