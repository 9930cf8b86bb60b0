import { relu, type Tensor } from "../tensor/index.js";
import { ReLU } from "./activation.js";
import { Module } from "./module.js";
import { MaxPool2d } from "./pool.js";

/**
 * Runs its layers in order; parameters are named by position ("0.weight", "3.bias").
 *
 * Note [ReLU then max-pool]
 * Max-pooling commutes with ReLU (both are monotone), so ReLU followed by MaxPool2d is computed as
 * pool first, then ReLU on the pooled tensor: the same values and the same gradients (ties and
 * the zero at ReLU's kink resolve identically), on a quarter of the elements for 2x2 windows.
 */
export class Sequential extends Module {
  readonly layers: readonly Module[];

  constructor(...layers: Module[]) {
    super();
    this.layers = layers.map((m, i) => this.child(String(i), m));
  }

  forward(x: Tensor): Tensor {
    let h = x;
    for (let i = 0; i < this.layers.length; i++) {
      const layer = this.layers[i]!;
      const next = this.layers[i + 1];
      if (layer instanceof ReLU && next instanceof MaxPool2d) {
        h = relu(next.forward(h));
        i++;
      } else {
        h = layer.forward(h);
      }
    }
    return h;
  }
}
