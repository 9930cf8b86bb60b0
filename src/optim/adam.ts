import { backend } from "../backend/index.js";
import type { Tensor } from "../tensor/tensor.js";
import { Optimizer } from "./optimizer.js";

export interface AdamOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

/** Adam (weight decay as an L2 term in the gradient), as torch.optim.Adam. */
export class Adam extends Optimizer {
  protected readonly decoupled: boolean = false;

  constructor(params: readonly Tensor[], readonly options: AdamOptions) {
    super(params, options.lr);
  }

  protected update(p: Tensor, g: Float32Array, state: Map<string, Float32Array>): void {
    const [beta1, beta2] = this.options.betas ?? [0.9, 0.999];
    backend().adamStep(
      p.data, g, this.buffer(state, "exp_avg", p.size), this.buffer(state, "exp_avg_sq", p.size), p.size,
      this.lr, beta1, beta2, this.options.eps ?? 1e-8, this.options.weightDecay ?? this.defaultDecay(), this.decoupled, this.stepCount,
    );
  }

  protected defaultDecay(): number {
    return 0;
  }

  withParams(params: readonly Tensor[]): Optimizer {
    const Kind = this.constructor as new (params: readonly Tensor[], options: AdamOptions) => Adam;
    const copy = new Kind(params, this.options);
    copy.lr = this.lr;
    return copy;
  }

  stateFloatsPerElement(): number {
    return 2;
  }
}

/** AdamW: weight decay applied to the parameter directly (decoupled), default 0.01, as torch.optim.AdamW. */
export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;

  protected override defaultDecay(): number {
    return 0.01;
  }
}
