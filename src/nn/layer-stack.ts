// A model seen as a stack of layers, each feeding the next, and a loss on the last one's output:
// what model-parallel strategies need to know of a model that `loss(model, batch)` hides. A
// pipeline puts consecutive layers on different workers and sends the activations between them;
// ZeRO stage 3 gathers one layer's parameters at a time, runs it, and frees them again.
//
// A recipe that describes its model this way (Recipe.layers) promises that running the stack is
// its loss: runLayerStack(stack, batch) computes what recipe.loss(model, batch) computes, the
// same ops in the same order (the tests check it bitwise). Layer 0 reads the batch; every later
// layer reads the previous layer's output (a single tensor) and may read the batch too (a
// position table, a mask). Every trainable parameter of the model belongs to exactly one layer.
import type { Tensor } from "../tensor/index.js";
import { Module } from "./module.js";
import type { Sequential } from "./sequential.js";

export interface StackLayer<B> {
  /** For messages and the balance report ("blocks.3", "head"). */
  readonly name: string;
  /** The module holding this layer's parameters (a layer without any may use an empty one). */
  readonly module: Module;
  /** `input` is undefined for layer 0, which reads the batch. */
  forward(input: Tensor | undefined, batch: B): Tensor;
}

export interface LayerStack<B> {
  readonly layers: readonly StackLayer<B>[];
  /** The loss (a scalar) from the last layer's output. */
  loss(output: Tensor, batch: B): Tensor;
  /**
   * Cuts a batch into `parts` consecutive micro-batches of equal size (a pipeline's). The mean of
   * their losses is the batch's loss, so `parts` must divide the batch: otherwise throws a
   * RangeError naming the sizes.
   */
  split(batch: B, parts: number): B[];
  /** Samples in a batch (to check a split and count throughput). */
  samplesIn(batch: B): number;
}

/** The loss of `batch` through every layer in order: the single-process reference of a stack. */
export function runLayerStack<B>(stack: LayerStack<B>, batch: B): Tensor {
  let x: Tensor | undefined;
  for (const layer of stack.layers) x = layer.forward(x, batch);
  if (!x) throw new RangeError("runLayerStack: the stack has no layers");
  return stack.loss(x, batch);
}

/**
 * Why `stack` cannot stand for `model` (a parameter in no layer, or in two), or undefined when
 * every parameter of the model belongs to exactly one layer.
 */
export function layerStackProblem<B>(model: Module, stack: LayerStack<B>): string | undefined {
  if (stack.layers.length === 0) return "the layer stack has no layers";
  const owner = new Map<Tensor, string>();
  for (const layer of stack.layers) {
    for (const [name, p] of layer.module.namedParameters()) {
      const other = owner.get(p);
      if (other !== undefined) return `parameter ${layer.name}.${name} is in two layers (${other} and ${layer.name})`;
      owner.set(p, layer.name);
    }
  }
  const missing = model.namedParameters().filter(([, p]) => !owner.has(p)).map(([n]) => n);
  if (missing.length > 0) return `parameter(s) ${missing.slice(0, 3).join(", ")}${missing.length > 3 ? ` and ${missing.length - 3} more` : ""} belong to no layer of the stack`;
  if (owner.size !== model.parameters().length) return "the layer stack has parameters the model does not";
  return undefined;
}

/**
 * A Sequential as a stack: one layer per child, layer 0 fed by `input(batch)`. Sequential's own
 * forward computes ReLU before max-pool as pool then ReLU (Note [ReLU then max-pool]), the same
 * values and gradients, so the stack's loss equals the model's to the bit only where no ReLU is
 * directly followed by a max-pool; elsewhere they agree to rounding.
 */
export function sequentialLayerStack<B>(
  model: Sequential,
  o: { input(batch: B): Tensor; loss(output: Tensor, batch: B): Tensor; split(batch: B, parts: number): B[]; samplesIn(batch: B): number },
): LayerStack<B> {
  return {
    layers: model.layers.map((module, i) => ({
      name: String(i),
      module,
      forward: (x: Tensor | undefined, batch: B) => module.forward(x ?? o.input(batch)),
    })),
    loss: o.loss,
    split: o.split,
    samplesIn: o.samplesIn,
  };
}

/** Checks that `parts` divides `samples`, as LayerStack.split needs: the error names both. */
export function checkSplit(samples: number, parts: number): number {
  if (!Number.isInteger(parts) || parts < 1 || samples % parts !== 0) {
    throw new RangeError(`a batch of ${samples} samples cannot be cut into ${parts} equal micro-batches: choose --micro-batches to divide --batch`);
  }
  return samples / parts;
}

/** Modules that make one layer of a stack together (a model's embeddings, its last norm and head), under their names in the model. */
export class ModuleGroup extends Module {
  constructor(members: Record<string, Module>) {
    super();
    for (const [name, m] of Object.entries(members)) this.child(name, m);
  }

  forward(): Tensor {
    throw new Error("a ModuleGroup only groups a layer's parameters: run the layer's own forward");
  }
}
