// The baseline strategy: one process, plain training. It is what every other strategy must equal
// on one rank, and it changes nothing about the step a user would write by hand.
import type { Module } from "../../nn/index.js";
import type { Optimizer } from "../../optim/index.js";
import { checkFiniteLoss } from "./non-finite-loss.js";
import type { StepInput, StepOutcome, Strategy, Traffic } from "./strategy.js";

export class SingleStrategy implements Strategy {
  readonly name = "single";
  readonly rank = 0;
  readonly worldSize = 1;
  private optimizer: Optimizer | undefined;

  async setup(_model: Module, optimizer: Optimizer): Promise<void> {
    this.optimizer = optimizer;
  }

  async step({ step, forward }: StepInput): Promise<StepOutcome> {
    const opt = this.optimizer;
    if (!opt) throw new Error("SingleStrategy.step() before setup(): call await strategy.setup(model, optimizer) first");
    opt.zeroGrad();
    const loss = forward();
    const value = loss.item();
    checkFiniteLoss(value, step, "one process");
    loss.backward();
    opt.step();
    return { loss: value, commMs: 0, waitMs: 0 };
  }

  async finish(): Promise<void> {}

  writesCheckpoints(): boolean {
    return true;
  }

  report(): Record<string, string | number | boolean> {
    return {};
  }

  traffic(): Traffic {
    return { sent: 0, received: 0 };
  }

  async end(): Promise<void> {}
}
