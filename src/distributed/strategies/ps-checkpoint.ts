// A parameter server's part of a training checkpoint: its shard's parameters and their optimizer
// state, in a file of its own beside the one the training loop writes on worker 0
// (`<checkpoint>.server-<k>`), at the same step. The worker's file holds the whole model as the
// workers last pulled it; the shard files hold what only the servers have, the optimizer state
// (Adam's moments) and the update count. On resume each server loads its shard file and refuses
// one written for another shard layout or at another step than the worker's file.
//
// Names follow the training checkpoint's (Note [checkpoint metadata keys]): tensors under the
// model's parameter names, optimizer state as "optim.<parameter name>.<state name>".
import {
  expectTensor, loadCheckpoint, OPTIMIZER_STATE_PREFIX, saveCheckpoint, STEP_KEY, type NamedArray,
} from "../../checkpoint/index.js";
import type { Module } from "../../nn/index.js";
import type { Optimizer } from "../../optim/index.js";
import type { Shard } from "./ps-shards.js";

/** Metadata key of the shard's description (JSON of ShardFileInfo). */
export const PS_SHARD_KEY = "weft.ps_shard";

/** What a shard file says about itself, beside the step. */
export interface ShardFileInfo {
  shard: number;
  servers: number;
  /** The shard's parameter names, in order. */
  tensors: string[];
  /** Updates the server had applied (the parameters' version). */
  updates: number;
  /** The optimizer's own step count (Adam's bias correction). */
  optimizerSteps: number;
}

/** The file server `shard` writes beside the training checkpoint `path`. */
export function shardCheckpointPath(path: string, shard: number): string {
  return `${path}.server-${shard}`;
}

/** The shard's state, copied now (so training may go on while the copy is written). */
export interface ShardSnapshot {
  step: number;
  tensors: Record<string, NamedArray>;
  info: ShardFileInfo;
}

/** Copies the shard's parameters and optimizer state, synchronously. */
export function snapshotShard(model: Module, optimizer: Optimizer, shard: Shard, servers: number, step: number, updates: number): ShardSnapshot {
  const named = model.namedParameters();
  const { step: optimizerSteps, buffers } = optimizer.stateDict();
  const index = new Map(optimizer.params.map((p, i) => [p, i]));
  const tensors: Record<string, NamedArray> = {};
  const names: string[] = [];
  for (const i of shard.params) {
    const [name, p] = named[i]!;
    names.push(name);
    tensors[name] = { dtype: "F32", shape: [...p.shape], data: p.dense().slice() };
    const o = index.get(p);
    if (o === undefined) continue;
    for (const [key, b] of Object.entries(buffers)) {
      if (key.startsWith(`${o}.`)) tensors[`${OPTIMIZER_STATE_PREFIX}${name}.${key.slice(`${o}.`.length)}`] = { dtype: "F32", shape: [b.length], data: b.slice() };
    }
  }
  return { step, tensors, info: { shard: shard.index, servers, tensors: names, updates, optimizerSteps } };
}

export async function writeShardSnapshot(path: string, snapshot: ShardSnapshot): Promise<void> {
  await saveCheckpoint(path, snapshot.tensors, { [STEP_KEY]: String(snapshot.step), [PS_SHARD_KEY]: JSON.stringify(snapshot.info) });
}

/**
 * Loads shard `shard` from `path` into the model's shard parameters and the optimizer; returns the
 * step and update count it was written at. Everything is checked before anything is overwritten.
 */
export async function loadShardCheckpoint(
  path: string, model: Module, optimizer: Optimizer, shard: Shard, servers: number,
): Promise<{ step: number; updates: number }> {
  const ckpt = await loadCheckpoint(path);
  const raw = ckpt.metadata[PS_SHARD_KEY];
  if (raw === undefined) throw new Error(`${path} is not a parameter server's shard checkpoint (no ${PS_SHARD_KEY} metadata); resume from a checkpoint written with --strategy ps`);
  const info = JSON.parse(raw) as ShardFileInfo;
  const named = model.namedParameters();
  const names = shard.params.map((i) => named[i]![0]);
  if (info.shard !== shard.index || info.servers !== servers || info.tensors.join(",") !== names.join(",")) {
    throw new Error(
      `${path} holds shard ${info.shard} of ${info.servers} servers (${info.tensors.length} tensors), this server owns shard ${shard.index} of ${servers} ` +
        `(${names.length} tensors); resume with the same --servers and model as the run that wrote it`,
    );
  }
  const params = shard.params.map((i) => named[i]![1]);
  const values = params.map((p, j) => expectTensor(ckpt, names[j]!, "F32", p.shape).data as Float32Array);
  const index = new Map(optimizer.params.map((p, i) => [p, i]));
  const buffers: Record<string, Float32Array> = {};
  params.forEach((p, j) => {
    const prefix = `${OPTIMIZER_STATE_PREFIX}${names[j]!}.`;
    const o = index.get(p);
    for (const fileName of Object.keys(ckpt.tensors)) {
      if (!fileName.startsWith(prefix) || o === undefined) continue;
      buffers[`${o}.${fileName.slice(prefix.length)}`] = expectTensor(ckpt, fileName, "F32", [p.size]).data as Float32Array;
    }
  });
  params.forEach((p, j) => p.data.set(values[j]!, p.offset));
  optimizer.loadStateDict({ step: info.optimizerSteps, buffers });
  return { step: Number(ckpt.metadata[STEP_KEY] ?? "0"), updates: info.updates };
}

/** The step a training checkpoint (the worker's file) was written at. */
export async function checkpointStep(path: string): Promise<number> {
  const ckpt = await loadCheckpoint(path);
  return Number(ckpt.metadata[STEP_KEY] ?? "0");
}
