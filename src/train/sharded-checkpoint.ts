// A checkpoint written by a sharded strategy (ZeRO, pipeline stages, tensor parallel): one file
// per rank, `step-<n>.shard-<r>-of-<w>.safetensors`, each holding the slices of the state that
// rank owns (Strategy.stateShard) under the names a whole checkpoint uses, and in its metadata
// where each slice lies in its tensor. Loading reads every file of a step and puts the tensors
// together, so the same files load into any number of ranks (each strategy takes its own part
// at set-up, re-sharding as it does from a whole checkpoint) or into one process.
//
// Note [a sharded checkpoint is complete]
// The ranks write their files independently, on their writer threads, without waiting for each
// other. A step's checkpoint counts only when all w files are there and verify; a resume skips a
// step with a file missing or damaged (it was interrupted) and takes an older one. Each rank
// prunes only its own older files, keeping `keep` of them, so while the newest set may still be
// incomplete the one before it is whole: a sharded run needs keep >= 2.
//
// Putting the tensors together holds the whole state in memory for a moment, on every rank that
// loads: what a resume costs, once.
import { CheckpointError, loadCheckpoint, OPTIMIZER_STATE_PREFIX, CONFIG_KEY, STEP_KEY, type NamedArray } from "../checkpoint/index.js";
import type { StateShard, TensorSlice } from "../distributed/strategies/strategy.js";
import { applyTrainingCheckpoint, type TrainingSnapshot, type TrainingState } from "./training-checkpoint.js";

/** Metadata: where each stored tensor lies in its whole tensor; and which rank of how many wrote the file. */
const SLICES_KEY = "weft.slices";
const SHARD_KEY = "weft.shard";

type SliceInfo = Omit<TensorSlice, "data">;

export const SHARD_FILE = /^step-(\d+)\.shard-(\d+)-of-(\d+)\.safetensors$/;

/** The file rank `rank` of `world` writes for the checkpoint at `step`. */
export function shardFileName(step: number, rank: number, world: number): string {
  return `step-${step}.shard-${rank}-of-${world}.safetensors`;
}

function sliceShape(s: SliceInfo): number[] {
  if (s.dim === "flat") return [s.end - s.start];
  return s.shape.map((d, i) => (i === s.dim ? s.end - s.start : d));
}

/** A rank's file of the checkpoint at `step`: the shard's slices and where they lie. */
export function snapshotStateShard(shard: StateShard, step: number, rank: number, world: number, config: unknown): TrainingSnapshot {
  const tensors: Record<string, NamedArray> = {};
  const slices: Record<string, SliceInfo> = {};
  const put = (name: string, s: TensorSlice): void => {
    const info: SliceInfo = { shape: [...s.shape], dim: s.dim, start: s.start, end: s.end };
    tensors[name] = { dtype: "F32", shape: sliceShape(info), data: s.data.slice() };
    slices[name] = info;
  };
  for (const [name, s] of Object.entries(shard.model)) put(name, s);
  for (const [name, s] of Object.entries(shard.optimizer)) put(`${OPTIMIZER_STATE_PREFIX}${name}`, s);
  return {
    step, tensors,
    metadata: {
      [STEP_KEY]: String(step), [CONFIG_KEY]: JSON.stringify(config ?? null),
      [SLICES_KEY]: JSON.stringify(slices), [SHARD_KEY]: JSON.stringify({ rank, world, optimizer_step: shard.optimizerStep }),
    },
  };
}

/** Copies a slice's elements into the whole tensor's row-major buffer, counting each element it covers. */
function place(full: Float32Array, covered: Uint8Array, s: SliceInfo, data: Float32Array): void {
  if (s.dim === "flat") {
    full.set(data, s.start);
    for (let i = s.start; i < s.end; i++) covered[i]!++;
    return;
  }
  const d = s.dim;
  const outer = s.shape.slice(0, d).reduce((a, b) => a * b, 1);
  const inner = s.shape.slice(d + 1).reduce((a, b) => a * b, 1);
  const width = s.end - s.start;
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < width; k++) {
      const from = (o * width + k) * inner, to = (o * s.shape[d]! + s.start + k) * inner;
      full.set(data.subarray(from, from + inner), to);
      for (let i = to; i < to + inner; i++) covered[i]!++;
    }
  }
}

/**
 * Loads the checkpoint made of `paths` (every rank's file of one step, in rank order) into
 * `state`, as loadTrainingCheckpoint loads a whole one. Throws a CheckpointError when a file
 * does not verify or the files do not cover every tensor exactly once.
 */
export async function loadShardedCheckpoint(paths: readonly string[], state: TrainingState): Promise<{ step: number; config: unknown }> {
  const whole = new Map<string, { shape: readonly number[]; data: Float32Array; covered: Uint8Array; optimizer: boolean }>();
  let metadata: Record<string, string> | undefined;
  const source = paths[0]!.replace(SHARD_FILE_TAIL, ".shard-*.safetensors");
  for (const [i, path] of paths.entries()) {
    const ckpt = await loadCheckpoint(path);
    const shard = JSON.parse(ckpt.metadata[SHARD_KEY] ?? "null") as { rank: number; world: number } | null;
    const slices = JSON.parse(ckpt.metadata[SLICES_KEY] ?? "null") as Record<string, SliceInfo> | null;
    if (!shard || !slices) throw new CheckpointError(`checkpoint ${path} is not a shard of a sharded checkpoint (no ${SHARD_KEY} metadata)`, { source: path });
    if (shard.rank !== i || shard.world !== paths.length) {
      throw new CheckpointError(`checkpoint ${path} says it is shard ${shard.rank} of ${shard.world}, expected ${i} of ${paths.length}`, { source: path });
    }
    if (metadata && metadata[STEP_KEY] !== ckpt.metadata[STEP_KEY]) {
      throw new CheckpointError(`checkpoint ${path} is at step ${ckpt.metadata[STEP_KEY]}, its set at ${metadata[STEP_KEY]}`, { source: path });
    }
    metadata ??= ckpt.metadata;
    for (const [name, info] of Object.entries(slices)) {
      const optimizer = name.startsWith(OPTIMIZER_STATE_PREFIX);
      let t = whole.get(name);
      if (!t) {
        const size = info.shape.reduce((a, b) => a * b, 1);
        t = { shape: info.shape, data: new Float32Array(size), covered: new Uint8Array(size), optimizer };
        whole.set(name, t);
      }
      place(t.data, t.covered, info, ckpt.tensors[name]!.data as Float32Array);
    }
  }
  const tensors: Record<string, NamedArray> = {};
  const ownShapes = new Map(Object.entries(state.model.stateDict()).map(([n, t]) => [n, [...t.shape]]));
  for (const [name, t] of whole) {
    const gap = t.covered.findIndex((c) => c !== 1);
    if (gap >= 0) {
      throw new CheckpointError(
        `the sharded checkpoint ${source} holds element ${gap} of "${name}" ${t.covered[gap] === 0 ? "in no file" : `in ${t.covered[gap]} files`}; its files are not one run's shards of one step`,
        { source, tensor: name },
      );
    }
    // A whole checkpoint stores optimizer state flat (training-checkpoint.ts). A slice may
    // describe its tensor under another view of the same elements (tensor parallelism cuts a
    // fused (3D, D) projection as (3, D, D)): the model's own shape is the one a whole file has.
    const own = ownShapes.get(name);
    const shape = t.optimizer ? [t.data.length] : own && own.reduce((a, b) => a * b, 1) === t.data.length ? own : [...t.shape];
    tensors[name] = { dtype: "F32", shape, data: t.data };
  }
  return applyTrainingCheckpoint({ tensors, metadata: metadata!, source }, state, source);
}

const SHARD_FILE_TAIL = /\.shard-\d+-of-\d+\.safetensors$/;
