// Module: a layer or a model. It owns named parameters (trained), named buffers (state such as
// batch norm's running statistics, saved but not trained) and named child modules, and knows
// whether it is training or evaluating.
import { formatShape, sameShape } from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";

export abstract class Module {
  training = true;
  private readonly ownParams = new Map<string, Tensor>();
  private readonly ownBuffers = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  /** Registers a trainable parameter under `name` and returns it. */
  protected param(name: string, t: Tensor): Tensor {
    t.requiresGrad = true;
    this.ownParams.set(name, t);
    return t;
  }

  /** Registers non-trainable state under `name` (saved in stateDict) and returns it. */
  protected buffer(name: string, t: Tensor): Tensor {
    this.ownBuffers.set(name, t);
    return t;
  }

  /** Registers a child module under `name` and returns it. */
  protected child<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  /** Parameters in registration order, named by their path ("0.weight", "blocks.1.attn.qkv.bias"). */
  namedParameters(prefix = ""): [string, Tensor][] {
    const out: [string, Tensor][] = [...this.ownParams].map(([n, t]) => [prefix + n, t]);
    for (const [n, m] of this.children) out.push(...m.namedParameters(`${prefix}${n}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(prefix = ""): [string, Tensor][] {
    const out: [string, Tensor][] = [...this.ownBuffers].map(([n, t]) => [prefix + n, t]);
    for (const [n, m] of this.children) out.push(...m.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  /** Number of trainable scalars. */
  parameterCount(): number {
    return this.parameters().reduce((s, p) => s + p.size, 0);
  }

  train(on = true): this {
    this.training = on;
    for (const m of this.children.values()) m.train(on);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /** Parameters and buffers by name. The tensors are the live ones: copy before keeping. */
  stateDict(): Record<string, Tensor> {
    return Object.fromEntries([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /**
   * Copies values into this module's parameters and buffers. Every name must be present with the
   * same shape; an error names the first tensor that is missing, unexpected or misshapen.
   */
  loadStateDict(state: Record<string, Tensor>): void {
    const own = this.stateDict();
    for (const [name, t] of Object.entries(own)) {
      const src = state[name];
      if (!src) throw new Error(`loadStateDict: "${name}" is missing (expected shape ${formatShape(t.shape)})`);
      if (!sameShape(src.shape, t.shape)) {
        throw new Error(`loadStateDict: "${name}" has shape ${formatShape(src.shape)}, the model expects ${formatShape(t.shape)}`);
      }
    }
    const extra = Object.keys(state).filter((n) => !(n in own));
    if (extra.length > 0) throw new Error(`loadStateDict: unexpected tensors ${extra.join(", ")} (not in this model)`);
    for (const [name, t] of Object.entries(own)) t.data.set(state[name]!.dense(), t.offset);
  }

  abstract forward(x: Tensor): Tensor;
}
