// A training run's state as one safetensors file: the model's parameters and buffers under their
// module names ("0.weight"), the optimizer's state as "optim.<parameter name>.<state name>", and
// the step and configuration in the metadata. Loading checks every tensor's presence, dtype and
// shape before anything is overwritten, so a mismatched file changes nothing.
import {
  CONFIG_KEY, expectTensor, loadCheckpoint, OPTIMIZER_STATE_PREFIX, saveCheckpoint, STEP_KEY, type NamedArray, type TensorSource,
} from "../checkpoint/index.js";
import type { Module } from "../nn/index.js";
import type { Optimizer } from "../optim/index.js";

export interface TrainingState {
  model: Module;
  optimizer?: Optimizer;
}

/** Optimizer state names in the file, mapped to the optimizer's "<param index>.<state>" keys. */
function optimizerNames(model: Module, optimizer: Optimizer): Map<string, string> {
  const index = new Map(optimizer.params.map((p, i) => [p, i]));
  const names = new Map<string, string>();
  const { buffers } = optimizer.stateDict();
  for (const [name, p] of model.namedParameters()) {
    const i = index.get(p);
    if (i === undefined) continue;
    for (const key of Object.keys(buffers)) {
      if (key.startsWith(`${i}.`)) names.set(`${OPTIMIZER_STATE_PREFIX}${name}.${key.slice(`${i}.`.length)}`, key);
    }
  }
  return names;
}

/**
 * A training state copied at one step: the tensors and metadata of its checkpoint file. Every
 * array is a copy, so training may go on (and overwrite the live arrays) while it is written.
 */
export interface TrainingSnapshot {
  step: number;
  tensors: Record<string, NamedArray>;
  metadata: Record<string, string>;
}

/** Copies the model's and optimizer's state now, synchronously (the cost of a checkpoint on the training thread). */
export function snapshotTrainingState(state: TrainingState, step: number, config: unknown): TrainingSnapshot {
  const tensors: Record<string, NamedArray> = {};
  for (const [name, t] of Object.entries(state.model.stateDict())) {
    tensors[name] = { dtype: "F32", shape: [...t.shape], data: t.dense().slice() };
  }
  if (state.optimizer) {
    const { buffers } = state.optimizer.stateDict();
    for (const [fileName, key] of optimizerNames(state.model, state.optimizer)) {
      tensors[fileName] = { dtype: "F32", shape: [buffers[key]!.length], data: buffers[key]!.slice() };
    }
  }
  return { step, tensors, metadata: { [STEP_KEY]: String(step), [CONFIG_KEY]: JSON.stringify(config ?? null) } };
}

/** Writes the state to `path` atomically (saveCheckpoint: temporary file, fsync, rename, fsync of the folder). */
export async function saveTrainingCheckpoint(path: string, state: TrainingState, step: number, config: unknown): Promise<void> {
  const snapshot = snapshotTrainingState(state, step, config);
  await saveCheckpoint(path, snapshot.tensors, snapshot.metadata);
}

/** Restores model (and optimizer) state; returns the saved step and configuration. */
export async function loadTrainingCheckpoint(path: string, state: TrainingState): Promise<{ step: number; config: unknown }> {
  return applyTrainingCheckpoint(await loadCheckpoint(path), state, path);
}

/**
 * Restores model (and optimizer) state from tensors named as a checkpoint file names them (a file
 * read, or a sharded checkpoint's files put together): everything is checked before anything is
 * overwritten.
 */
export function applyTrainingCheckpoint(ckpt: TensorSource & { metadata: Record<string, string> }, state: TrainingState, path: string): { step: number; config: unknown } {
  const own = state.model.stateDict();
  const values = Object.entries(own).map(([name, t]) => [t, expectTensor(ckpt, name, "F32", t.shape).data as Float32Array] as const);
  const step = Number(ckpt.metadata[STEP_KEY] ?? "0");
  let optimizerState: { step: number; buffers: Record<string, Float32Array> } | null = null;
  if (state.optimizer) {
    const buffers: Record<string, Float32Array> = {};
    const index = new Map(state.optimizer.params.map((p, i) => [p, i]));
    for (const fileName of Object.keys(ckpt.tensors)) {
      if (!fileName.startsWith(OPTIMIZER_STATE_PREFIX)) continue;
      const rest = fileName.slice(OPTIMIZER_STATE_PREFIX.length);
      const paramName = Object.keys(own).find((n) => rest.startsWith(`${n}.`) && index.has(own[n]!));
      if (!paramName) throw new Error(`checkpoint ${path}: optimizer state "${fileName}" names no parameter of this model`);
      const p = own[paramName]!;
      buffers[`${index.get(p)}.${rest.slice(paramName.length + 1)}`] = expectTensor(ckpt, fileName, "F32", [p.size]).data as Float32Array;
    }
    optimizerState = { step, buffers };
  }
  for (const [t, data] of values) t.data.set(data, t.offset);
  if (optimizerState) state.optimizer!.loadStateDict(optimizerState);
  return { step, config: JSON.parse(ckpt.metadata[CONFIG_KEY] ?? "null") as unknown };
}
