// How ZeRO lays a model out across ranks (Note [zero units]): parameters grouped into units, each
// unit one flat vector padded to a multiple of the world size, and rank r owning the r-th equal
// chunk of every unit. This file is the bookkeeping: building the units, moving a parameter's
// storage into its unit's vector, packing gradients, and naming the slices a checkpoint stores.
//
// Note [zero units]
// A reduce-scatter hands rank r the r-th chunk of its buffer, and an all-gather puts rank r's
// chunk r-th. So if each unit is sharded on its own, the chunk a unit's collective gives a rank
// is exactly that rank's part of the unit, and collectives can run unit by unit: during backward
// as each unit's gradients are complete (stage 2), and, for stage 3, gathering one unit's
// parameters just before it runs. That is why DeepSpeed and FSDP shard per bucket or per wrapped
// module, not the whole model as one vector. Units are DDP's buckets for stages 1 and 2 (reverse
// registration order, about `bucketBytes` each, so they fill in backward's order) and the recipe's
// layers for stage 3 (so a unit is gathered exactly when its layer runs).
//
// Padding: a unit of n floats is padded to ceil(n / w) · w with zeros, whose gradients are zero, so
// every elementwise optimizer leaves them zero; they are never written to a checkpoint.
import type { Module } from "../../nn/index.js";
import type { Optimizer } from "../../optim/index.js";
import type { Tensor } from "../../tensor/index.js";
import { sharedFloat32Array } from "../base/shared-buffer.js";
import type { TensorSlice } from "./strategy.js";

/** One parameter's place in its unit. */
export interface UnitMember {
  name: string;
  param: Tensor;
  /** First element in the unit's flat vector. */
  offset: number;
}

export interface ZeroUnit {
  /** For messages ("blocks.3", "bucket 2"). */
  label: string;
  members: UnitMember[];
  /** Floats of the parameters, and of the padded vector (a multiple of the world size). */
  size: number;
  padded: number;
  /** Floats per rank: padded / worldSize. */
  chunk: number;
  /** This rank's chunk of the parameters (the master copy the optimizer steps). */
  shardParams: Float32Array;
  /** This rank's chunk of the averaged gradients. */
  shardGrads: Float32Array;
}

/** Groups of named parameters as units sharded over `worldSize` ranks (the caller fills the shard buffers). */
export function buildUnits(groups: readonly { label: string; params: readonly [string, Tensor][] }[], worldSize: number): ZeroUnit[] {
  return groups.filter((g) => g.params.length > 0).map(({ label, params }) => {
    let size = 0;
    const members = params.map(([name, param]) => {
      const m = { name, param, offset: size };
      size += param.size;
      return m;
    });
    const chunk = Math.ceil(size / worldSize);
    return { label, members, size, padded: chunk * worldSize, chunk, shardParams: sharedFloat32Array(chunk), shardGrads: sharedFloat32Array(chunk) };
  });
}

/** Parameters in buckets of about `bucketBytes`, in reverse registration order (Note [buckets] in ddp.ts). */
export function bucketGroups(model: Module, bucketBytes: number): { label: string; params: [string, Tensor][] }[] {
  const groups: { label: string; params: [string, Tensor][] }[] = [];
  let bytes = Infinity;
  for (const named of [...model.namedParameters()].reverse()) {
    if (bytes >= bucketBytes) {
      groups.push({ label: `bucket ${groups.length}`, params: [] });
      bytes = 0;
    }
    groups[groups.length - 1]!.params.push(named);
    bytes += named[1].size * 4;
  }
  return groups;
}

/**
 * Moves a parameter's storage to `data` (a view of its unit's flat vector, or an empty array once
 * a stage-3 unit is released), as FSDP's flat parameter does. Only between uses: no graph may hold
 * the old array. A parameter is a dense tensor at offset 0 (Module.param), so the view replaces
 * it whole.
 */
export function rehome(param: Tensor, data: Float32Array): void {
  (param as unknown as { data: Float32Array }).data = data;
}

/** Points every member of `unit` at its place in `full` (the unit's gathered vector). */
export function rehomeUnit(unit: ZeroUnit, full: Float32Array): void {
  for (const m of unit.members) rehome(m.param, full.subarray(m.offset, m.offset + m.param.size));
}

/** Copies the members' current values into a new padded vector (for the broadcast at set-up). */
export function readUnit(unit: ZeroUnit): Float32Array {
  const full = sharedFloat32Array(unit.padded);
  for (const m of unit.members) full.set(m.param.dense(), m.offset);
  return full;
}

/**
 * The members' gradients in one padded vector (zeros where a member has none, and in the
 * padding), the gradients dropped: the caller reduce-scatters the vector.
 */
export function packGradients(unit: ZeroUnit): Float32Array {
  const flat = sharedFloat32Array(unit.padded);
  for (const m of unit.members) {
    if (m.param.grad) flat.set(m.param.grad.dense(), m.offset);
    m.param.grad = null;
  }
  return flat;
}

/** The range of the unit's vector that `rank` owns. */
export function ownedRange(unit: ZeroUnit, rank: number): { start: number; end: number } {
  return { start: rank * unit.chunk, end: (rank + 1) * unit.chunk };
}

/**
 * The slices of each member that fall in `rank`'s chunk, with `values` (the chunk's floats, e.g.
 * the shard's parameters or one optimizer state) cut to match, copied: what a checkpoint stores.
 */
export function ownedSlices(unit: ZeroUnit, rank: number, values: Float32Array, nameOf: (m: UnitMember) => string, into: Record<string, TensorSlice>): void {
  const own = ownedRange(unit, rank);
  for (const m of unit.members) {
    const start = Math.max(own.start, m.offset), end = Math.min(own.end, m.offset + m.param.size);
    if (start >= end) continue;
    into[nameOf(m)] = {
      shape: [...m.param.shape], dim: "flat", start: start - m.offset, end: end - m.offset,
      data: values.slice(start - own.start, end - own.start),
    };
  }
}

/**
 * A shard optimizer's starting state, cut from the model's optimizer (which holds whatever a
 * checkpoint loaded before set-up): for each unit and each state buffer, this rank's chunk.
 */
export function shardOptimizerState(units: readonly ZeroUnit[], rank: number, full: Optimizer): { step: number; buffers: Record<string, Float32Array> } {
  const index = new Map(full.params.map((p, i) => [p, i]));
  const { step, buffers } = full.stateDict();
  const out: Record<string, Float32Array> = {};
  units.forEach((unit, u) => {
    const own = ownedRange(unit, rank);
    for (const m of unit.members) {
      const i = index.get(m.param);
      if (i === undefined) continue;
      for (const [key, b] of Object.entries(buffers)) {
        if (!key.startsWith(`${i}.`)) continue;
        const name = key.slice(`${i}.`.length);
        const target = (out[`${u}.${name}`] ??= new Float32Array(unit.chunk));
        const start = Math.max(own.start, m.offset), end = Math.min(own.end, m.offset + m.param.size);
        if (start < end) target.set(b.subarray(start - m.offset, end - m.offset), start - own.start);
      }
    }
  });
  return { step, buffers: out };
}
