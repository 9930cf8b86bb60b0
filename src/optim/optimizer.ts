// The optimizer base: a list of parameters, per-parameter state buffers, a learning rate that a
// schedule may change between steps, and state that checkpoints save and restore by name.
import type { Tensor } from "../tensor/tensor.js";

export abstract class Optimizer {
  /** Updates taken so far. */
  stepCount = 0;
  /** Per-parameter state buffers, by parameter index then buffer name (e.g. "exp_avg"). */
  protected readonly state: Map<string, Float32Array>[];

  constructor(readonly params: readonly Tensor[], public lr: number) {
    if (!(lr >= 0)) throw new RangeError(`${new.target.name}: learning rate must be >= 0, got ${lr}`);
    this.state = params.map(() => new Map());
  }

  /** Applies one update to every parameter that has a gradient. */
  step(): void {
    this.stepCount++;
    this.params.forEach((p, i) => {
      if (p.grad) this.update(p, p.grad.dense(), this.state[i]!);
    });
  }

  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  protected abstract update(param: Tensor, grad: Float32Array, state: Map<string, Float32Array>): void;

  /**
   * The same optimizer (kind and settings, this learning rate) over other parameters, with fresh
   * state: what a sharded strategy steps its shard of the parameters with. Every update is
   * elementwise, so a shard stepped alone moves exactly as its elements would in the whole.
   */
  abstract withParams(params: readonly Tensor[]): Optimizer;

  /** State floats kept per parameter element once stepping (Adam 2, SGD with momentum 1): for memory plans. */
  abstract stateFloatsPerElement(): number;

  /** A zeroed state buffer of the parameter's size, created on first use. */
  protected buffer(state: Map<string, Float32Array>, name: string, size: number): Float32Array {
    let b = state.get(name);
    if (!b) {
      b = new Float32Array(size);
      state.set(name, b);
    }
    return b;
  }

  /** State buffers by "<param index>.<name>", plus the step count (for checkpoints). */
  stateDict(): { step: number; buffers: Record<string, Float32Array> } {
    const buffers: Record<string, Float32Array> = {};
    this.state.forEach((s, i) => s.forEach((b, name) => (buffers[`${i}.${name}`] = b)));
    return { step: this.stepCount, buffers };
  }

  loadStateDict(saved: { step: number; buffers: Record<string, Float32Array> }): void {
    for (const [key, b] of Object.entries(saved.buffers)) {
      const [index, name] = [Number(key.slice(0, key.indexOf("."))), key.slice(key.indexOf(".") + 1)];
      const p = this.params[index];
      if (!p) throw new Error(`Optimizer.loadStateDict: state "${key}" is for parameter ${index}, but there are ${this.params.length}`);
      if (b.length !== p.size) throw new Error(`Optimizer.loadStateDict: state "${key}" has ${b.length} values, parameter ${index} has ${p.size}`);
      this.state[index]!.set(name, b.slice());
    }
    this.stepCount = saved.step;
  }
}
