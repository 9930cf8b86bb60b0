import { backend } from "../backend/index.js";
import type { Tensor } from "../tensor/tensor.js";
import { Optimizer } from "./optimizer.js";

export interface SgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/** Stochastic gradient descent with PyTorch's momentum, Nesterov and (L2) weight decay. */
export class SGD extends Optimizer {
  constructor(params: readonly Tensor[], readonly options: SgdOptions) {
    super(params, options.lr);
    if (options.nesterov && !((options.momentum ?? 0) > 0 && (options.dampening ?? 0) === 0)) {
      throw new RangeError("SGD: Nesterov momentum needs momentum > 0 and dampening 0");
    }
  }

  protected update(p: Tensor, g: Float32Array, state: Map<string, Float32Array>): void {
    const momentum = this.options.momentum ?? 0;
    const first = !state.has("momentum_buffer");
    const buf = momentum > 0 ? this.buffer(state, "momentum_buffer", p.size) : null;
    backend().sgdStep(
      p.data, g, buf, p.size, this.lr, momentum, this.options.dampening ?? 0,
      this.options.weightDecay ?? 0, this.options.nesterov ?? false, first,
    );
  }

  withParams(params: readonly Tensor[]): Optimizer {
    const copy = new SGD(params, this.options);
    copy.lr = this.lr;
    return copy;
  }

  stateFloatsPerElement(): number {
    return (this.options.momentum ?? 0) > 0 ? 1 : 0;
  }
}
