// What a pipeline stage owns of the training state: its layers' parameters and buffers, under the
// names they have in the whole model, and the optimizer state of those parameters. The stage's
// optimizer starts from the state the model's optimizer already holds for them (fit() loads a
// checkpoint before set-up), its checkpoint shard holds whole tensors (dim "flat", start 0, end
// size), and at the end each stage hands its tensors to the rest of its pipeline.
import type { Module } from "../../nn/index.js";
import type { Optimizer } from "../../optim/index.js";
import type { Tensor } from "../../tensor/index.js";
import { sharedFloat32Array } from "../base/shared-buffer.js";
import type { StackLayer } from "../../nn/index.js";
import type { StateShard, TensorSlice } from "./strategy.js";

/** A stage's tensors, by their names in the whole model. */
export interface StageTensors {
  parameters: [string, Tensor][];
  buffers: [string, Tensor][];
}

/** The parameters and buffers of `layers`, named as `model` names them. */
export function stageTensors(model: Module, layers: readonly StackLayer<unknown>[]): StageTensors {
  const paramNames = new Map(model.namedParameters().map(([n, t]) => [t, n]));
  const bufferNames = new Map(model.namedBuffers().map(([n, t]) => [t, n]));
  const named = (names: Map<Tensor, string>, ts: Tensor[]): [string, Tensor][] => ts.map((t) => {
    const name = names.get(t);
    if (name === undefined) throw new Error("pipeline: a layer of the stack holds a tensor the model does not: the recipe's layers must be built from its model");
    return [name, t];
  });
  return {
    parameters: named(paramNames, layers.flatMap((l) => l.module.parameters())),
    buffers: named(bufferNames, layers.flatMap((l) => l.module.namedBuffers().map(([, t]) => t))),
  };
}

/**
 * The stage's optimizer: the model's optimizer over the stage's parameters alone, carrying the
 * state and step count the model's optimizer holds for them.
 */
export function stageOptimizer(full: Optimizer, params: readonly Tensor[]): Optimizer {
  const stage = full.withParams(params);
  const index = new Map(full.params.map((p, i) => [p, i]));
  const { step, buffers } = full.stateDict();
  const own: Record<string, Float32Array> = {};
  params.forEach((p, j) => {
    const i = index.get(p);
    if (i === undefined) return;
    for (const [key, b] of Object.entries(buffers)) {
      if (key.startsWith(`${i}.`)) own[`${j}.${key.slice(`${i}.`.length)}`] = b;
    }
  });
  stage.loadStateDict({ step, buffers: own });
  return stage;
}

const whole = (t: { shape: readonly number[] }, data: Float32Array): TensorSlice => ({ shape: [...t.shape], dim: "flat", start: 0, end: data.length, data });

/** The stage's part of a checkpoint: its tensors whole, and its optimizer state as "<parameter name>.<state name>". */
export function stageShard(tensors: StageTensors, optimizer: Optimizer): StateShard {
  const shard: StateShard = { model: {}, optimizer: {}, optimizerStep: optimizer.stepCount };
  for (const [name, t] of [...tensors.parameters, ...tensors.buffers]) shard.model[name] = whole(t, t.dense().slice());
  const { buffers } = optimizer.stateDict();
  for (const [key, b] of Object.entries(buffers)) {
    const dot = key.indexOf(".");
    const [name] = tensors.parameters[Number(key.slice(0, dot))]!;
    shard.optimizer[`${name}.${key.slice(dot + 1)}`] = { shape: [b.length], dim: "flat", start: 0, end: b.length, data: b.slice() };
  }
  return shard;
}

/** The whole model as one rank's shard (before a cut is made, every rank holds all of it). */
export function wholeShard(model: Module, optimizer: Optimizer): StateShard {
  const tensors: StageTensors = { parameters: model.namedParameters(), buffers: model.namedBuffers() };
  return stageShard(tensors, stageOptimizer(optimizer, model.parameters()));
}

/** The stage's tensors in one vector (parameters, then buffers), for a broadcast. */
export function readTensors(tensors: readonly Tensor[]): Float32Array {
  const out = sharedFloat32Array(tensors.reduce((n, t) => n + t.size, 0));
  let at = 0;
  for (const t of tensors) {
    out.set(t.dense(), at);
    at += t.size;
  }
  return out;
}

/** Copies a vector made by readTensors back into the tensors (parameters and buffers are dense). */
export function writeTensors(tensors: readonly Tensor[], from: Float32Array): void {
  let at = 0;
  for (const t of tensors) {
    t.data.set(from.subarray(at, at + t.size), t.offset);
    at += t.size;
  }
}
