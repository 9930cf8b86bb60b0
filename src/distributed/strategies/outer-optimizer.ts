// The outer optimizer of local SGD / DiLoCo (local-sgd.ts): every K local steps the replicas'
// mean parameter change Δ = x_global - mean(x_local) is treated as a gradient of the global
// parameters ("outer gradient", Douillard et al. 2023) and stepped on:
//
//   sgd        x_global ← x_global - lr · Δ        lr 1 is plain parameter averaging (local SGD,
//                                                  Stich 2019; "model averaging"); lr > 1 goes
//                                                  on past the mean along the round's change
//   nesterov   m ← μ m + Δ;  x_global ← x_global - lr · (Δ + μ m),  μ = 0.9: PyTorch's SGD with
//              nesterov=True, which is what DiLoCo uses, with its outer lr 0.7
//
// Both are the optim layer's SGD on one flat tensor over the global parameters, so the outer step
// is the same arithmetic as any other SGD step and its momentum is an ordinary state buffer.
import { SGD } from "../../optim/index.js";
import { Tensor } from "../../tensor/index.js";

export const OUTER_OPTIMIZERS = ["sgd", "nesterov"] as const;
export type OuterOptimizerKind = (typeof OUTER_OPTIMIZERS)[number];

/** DiLoCo's outer momentum. */
export const OUTER_MOMENTUM = 0.9;

/**
 * Each kind's default outer learning rate: nesterov 0.7 (DiLoCo's); sgd 1.5, a step half again
 * past the replicas' mean, chosen by measurement (Note [outer step defaults] in local-sgd.ts).
 */
export const DEFAULT_OUTER_LR: Record<OuterOptimizerKind, number> = { sgd: 1.5, nesterov: 0.7 };

/**
 * Steps `global` (updated in place) against the outer gradient given to each step().
 *
 * @example Outer SGD with lr 1 moves the global parameters onto the replicas' mean
 * ```ts
 * import { OuterOptimizer } from "weft";
 * const global = Float32Array.of(1, 1);
 * const outer = new OuterOptimizer(global, "sgd", 1);
 * outer.step(Float32Array.of(0.5, -1));      // the replicas moved by -0.5 and +1 on average
 * assert.deepEqual([...global], [0.5, 2]);
 * ```
 */
export class OuterOptimizer {
  readonly lr: number;
  private readonly param: Tensor;
  private readonly sgd: SGD;

  constructor(global: Float32Array, readonly kind: OuterOptimizerKind, lr?: number) {
    if (!OUTER_OPTIMIZERS.includes(kind)) throw new RangeError(`outer optimizer must be one of ${OUTER_OPTIMIZERS.join(", ")}, got "${kind}"`);
    this.lr = lr ?? DEFAULT_OUTER_LR[kind];
    if (!(this.lr > 0 && Number.isFinite(this.lr))) throw new RangeError(`outer learning rate must be a number above 0, got ${this.lr}`);
    this.param = new Tensor(global, [global.length]);
    this.sgd = new SGD([this.param], kind === "sgd" ? { lr: this.lr } : { lr: this.lr, momentum: OUTER_MOMENTUM, nesterov: true });
  }

  /** One outer step on the outer gradient `delta` (x_global - mean x_local), as long as the global vector. */
  step(delta: Float32Array): void {
    if (delta.length !== this.param.size) throw new RangeError(`OuterOptimizer.step: the outer gradient has ${delta.length} floats, the parameters ${this.param.size}`);
    this.param.grad = new Tensor(delta, [delta.length]);
    this.sgd.step();
    this.param.grad = null;
  }
}
