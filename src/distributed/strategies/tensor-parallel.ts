// Tensor parallelism as Megatron-LM does it (Shoeybi et al. 2019; Narayanan et al. 2021 for TP ×
// DP), as a Strategy: `weft train <recipe> --workers N --strategy tensor --tp T [--dp D]`.
//
// The N = T × D ranks form D tensor-parallel groups of T adjacent ranks (rank = d·T + t, the
// layout Megatron uses, so that a group's ranks are neighbours on one machine) and T
// data-parallel groups of the ranks at the same place t in each group. The ranks of one TP group
// hold one model together, split by the recipe's tensor-parallel form (Recipe.tensorParallel;
// distributed/tensor-parallel/), and read the same batches (dataShard: the group's index d).
//
// One step, on every rank:
//  1. zero the local gradients; the form's loss on the batch, forward and backward: its layers
//     all-reduce over the TP group inline, inside forward and backward (Note [inline all-reduce]
//     in group/process-group.ts), and every rank of the group ends with the same loss;
//  2. with D > 1: one all-reduce (average) over the DP group of every local gradient and the
//     loss, packed in one buffer, as DDP averages the loss beside the gradients;
//  3. a non-finite loss throws NonFiniteLossError here, on every rank (they share it), before
//     anything is updated;
//  4. the optimizer (the recipe's, over this rank's parameters: Optimizer.withParams) steps.
//
// Note [tensor parallel matches one process]
// The split changes only where sums are cut: a row-parallel product is a sum of T partial
// products, the loss's sum-exp a sum of T partial sums, and the TP × DP average a mean of D batch
// means instead of one mean over the D batches. Every rank computes each all-reduce's result in
// rank order, so the replicated parameters stay bitwise equal across a group (Note [replicas stay
// bitwise equal across the group] in tensor-parallel/operators.ts) and across the DP replicas, and
// the run differs from one process on the union of the batches by float rounding only, which
// training then carries along (the tests bound it over 20 Adam steps).
//
// The full model handed to setup (built from the run's seed, as one process builds it) is what the
// slices are taken from. Its sliced parameters are released while the ranks train, so a rank holds
// its slices and the replicated tensors only (memory()), and finish() puts the trained slices
// back together into it on every rank, for the evaluation and the result.
import type { Module } from "../../nn/index.js";
import type { Optimizer } from "../../optim/index.js";
import { Tensor } from "../../tensor/index.js";
import type { ProcessGroup } from "../group/process-group.js";
import { placeSlice, takeSlice } from "../tensor-parallel/slices.js";
import type { TensorParallelModel } from "../tensor-parallel/tensor-parallel-model.js";
import { modelDigest } from "./flat-state.js";
import { checkFiniteLoss } from "./non-finite-loss.js";
import type { HeldMemory, SetupContext, StateShard, StepInput, StepOutcome, Strategy, TensorSlice, Traffic } from "./strategy.js";
import { averageGradients } from "./average-gradients.js";

export interface TensorParallelOptions {
  /** Ranks that split each layer (T). */
  tp: number;
  /** Data-parallel replicas of the split model (D; default 1); T × D must be the group's size. */
  dp?: number;
}

/** What a released parameter points at until finish(): an op that reads it by mistake sees no elements. */
const RELEASED = new Float32Array(0);

/** Moves a parameter's storage (as ZeRO does, zero-layout.ts rehome): only between uses. */
function rehome(param: Tensor, data: Float32Array): void {
  (param as unknown as { data: Float32Array }).data = data;
}

/**
 * Tensor parallelism over `pg`: groups of `tp` ranks split the model (the recipe's tensor-parallel
 * form, SetupContext.tensorParallel), `dp` such groups train on different data. Every TP group
 * must be on one machine (its all-reduces run through shared memory).
 */
export class TensorParallelStrategy implements Strategy {
  readonly name = "tensor";
  readonly rank: number;
  readonly worldSize: number;
  readonly dataShard: { rank: number; worldSize: number };
  readonly tp: number;
  readonly dp: number;
  private tpGroup: ProcessGroup | undefined;
  private dpGroup: ProcessGroup | null = null;
  private model: Module | undefined;
  private optimizer: Optimizer | undefined;
  private local: Optimizer | undefined;
  private form: TensorParallelModel | undefined;
  private finished = false;
  private gradientPeak = 0;
  private optimizerPeak = 0;

  constructor(private readonly pg: ProcessGroup, options: TensorParallelOptions) {
    const dp = options.dp ?? 1;
    const { tp } = options;
    if (!(Number.isInteger(tp) && tp >= 1 && Number.isInteger(dp) && dp >= 1) || tp * dp !== pg.worldSize) {
      throw new RangeError(`TensorParallelStrategy: --tp ${tp} × --dp ${dp} must be the ${pg.worldSize} ranks of the group; pass a --tp and --dp whose product is --workers`);
    }
    this.tp = tp;
    this.dp = dp;
    this.rank = pg.rank;
    this.worldSize = pg.worldSize;
    this.dataShard = { rank: Math.floor(pg.rank / tp), worldSize: dp };
  }

  async setup(model: Module, optimizer: Optimizer, context?: SetupContext): Promise<void> {
    if (this.model) throw new Error("TensorParallelStrategy.setup() called twice: make a new TensorParallelStrategy for another model or run");
    const build = context?.tensorParallel;
    if (!build) throw new Error("--strategy tensor: this recipe offers no tensor-parallel form of its model (Recipe.tensorParallel); train it with another strategy, or use a recipe that has one (a GPT)");
    const { pg, tp, dp } = this;
    // Every rank makes every subgroup, in the same order (ProcessGroup.newGroup).
    // (A group of one is made anew even when it is the whole job: it runs inline, whatever the job's transport.)
    if (tp === this.worldSize && tp > 1) this.tpGroup = pg;
    else {
      for (let d = 0; d < dp; d++) this.tpGroup = (await pg.newGroup(Array.from({ length: tp }, (_, t) => d * tp + t))) ?? this.tpGroup;
    }
    if (dp > 1 && dp === this.worldSize) this.dpGroup = pg;
    else if (dp > 1) {
      for (let t = 0; t < tp; t++) this.dpGroup = (await pg.newGroup(Array.from({ length: dp }, (_, d) => d * tp + t))) ?? this.dpGroup;
    }
    const tpGroup = this.tpGroup!;
    // Fails at once, in one line, where the TP group's collectives cannot run inline (over TCP).
    tpGroup.allReduceInline(new Float32Array(1));
    // Every rank starts from rank 0's model (they built the same one from the seed; a checkpoint
    // loaded into each is the same too, but this makes it so whatever the recipe does).
    if (this.worldSize > 1) for (const [, t] of [...model.namedParameters(), ...model.namedBuffers()]) await pg.broadcast(t, 0);
    const form = build(tpGroup);
    checkCovers(form, model);
    // The optimizer's state, when a checkpoint filled it, is sliced as the parameters are.
    const index = new Map(model.parameters().map((p, i) => [p, i]));
    const saved = optimizer.stateDict();
    const buffers: Record<string, Float32Array> = {};
    form.parameters.forEach((p, i) => {
      const prefix = `${index.get(p.full)!}.`;
      for (const [key, b] of Object.entries(saved.buffers)) {
        if (key.startsWith(prefix)) buffers[`${i}.${key.slice(prefix.length)}`] = p.split ? takeSlice(b, p.split) : b.slice();
      }
    });
    this.local = optimizer.withParams(form.parameters.map((p) => p.local));
    this.local.loadStateDict({ step: saved.step, buffers });
    for (const p of form.parameters) if (p.split) rehome(p.full, RELEASED);
    this.form = form;
    this.model = model;
    this.optimizer = optimizer;
  }

  async step(input: StepInput): Promise<StepOutcome> {
    const { form, local, optimizer } = this;
    if (!form || !local || !optimizer) throw new Error("TensorParallelStrategy.step() before setup(): call await strategy.setup(model, optimizer, context) first");
    if (input.batch === undefined) throw new Error("--strategy tensor runs the tensor-parallel model itself and needs the step's batch (StepInput.batch); fit() passes it");
    const commAtStart = form.comm?.ms ?? 0;
    local.zeroGrad();
    const loss = form.loss(input.batch);
    let value = loss.item();
    loss.backward();
    const params = form.parameters.map((p) => p.local);
    let gradBytes = 0;
    for (const p of params) {
      p.grad ??= new Tensor(new Float32Array(p.size), p.shape); // a parameter no gradient reached: zeros, on every rank alike
      gradBytes += p.size * 4;
    }
    this.gradientPeak = Math.max(this.gradientPeak, gradBytes);
    let dpMs = 0;
    if (this.dpGroup) {
      const t0 = performance.now();
      value = (await averageGradients(this.dpGroup, params, [value]))[0]!;
      dpMs = performance.now() - t0;
    }
    checkFiniteLoss(value, input.step, this.dp > 1 ? `averaged over ${this.dp} data-parallel replicas of ${this.tp} tensor-parallel ranks` : `shared by ${this.tp} tensor-parallel ranks`);
    local.lr = optimizer.lr;
    local.step();
    this.optimizerPeak = Math.max(this.optimizerPeak, Object.values(local.stateDict().buffers).reduce((n, b) => n + b.length * 4, 0));
    const ms = (form.comm?.ms ?? 0) - commAtStart + dpMs;
    return { loss: value, commMs: ms, waitMs: ms };
  }

  /** Puts every sliced parameter back together in the full model, on every rank (an all-reduce of zero-padded slices: one contributor per element, so exact). */
  async finish(): Promise<void> {
    if (!this.form || this.finished) return;
    for (const p of this.form.parameters) {
      if (!p.split) continue;
      const whole = new Float32Array(p.full.size);
      placeSlice(whole, p.split, p.local.dense());
      await this.tpGroup!.allReduce(whole);
      rehome(p.full, whole);
    }
    this.finished = true;
  }

  /** Every rank writes a file of a sharded checkpoint (its file is empty where it holds nothing another rank does not write). */
  writesCheckpoints(): boolean {
    return true;
  }

  /**
   * The ranks of the first data-parallel replica (d = 0) write their slices, and its TP rank 0
   * the replicated tensors as whole-tensor slices: each element is in exactly one file (the other
   * replicas hold bitwise the same, Note [tensor parallel matches one process]). Optimizer state
   * is sliced as its parameter.
   */
  stateShard(): StateShard {
    const shard: StateShard = { model: {}, optimizer: {}, optimizerStep: this.local?.stepCount ?? 0 };
    if (!this.form || !this.local || this.dataShard.rank !== 0) return shard;
    const tpRank = this.rank % this.tp;
    const buffers = this.local.stateDict().buffers;
    const sliceOf = (p: TensorParallelModel["parameters"][number], data: Float32Array): TensorSlice =>
      p.split
        ? { shape: [...p.split.shape], dim: p.split.dim, start: p.split.start, end: p.split.end, data: data.slice() }
        : { shape: [...p.full.shape], dim: "flat", start: 0, end: p.local.size, data: data.slice() };
    this.form.parameters.forEach((p, i) => {
      if (!p.split && tpRank !== 0) return;
      shard.model[p.name] = sliceOf(p, p.local.dense());
      for (const [key, b] of Object.entries(buffers)) {
        if (key.startsWith(`${i}.`)) shard.optimizer[`${p.name}.${key.slice(`${i}.`.length)}`] = sliceOf(p, b);
      }
    });
    return shard;
  }

  /** This rank's slices and replicated tensors, their gradients and optimizer state (the full model's sliced tensors are released while training). */
  memory(): HeldMemory {
    const parameters = (this.form?.parameters ?? []).reduce((n, p) => n + p.local.size * 4, 0);
    return { parameters, gradients: this.gradientPeak, optimizer: this.optimizerPeak };
  }

  /** The full model's digest once finish() put it together (the same on every rank), and the layout. */
  report(): Record<string, string | number | boolean> {
    return { digest: this.finished && this.model ? modelDigest(this.model) : "", transport: this.tpGroup?.transport ?? this.pg.transport, tp: this.tp, dp: this.dp };
  }

  traffic(): Traffic {
    return this.pg.traffic();
  }

  async end(): Promise<void> {}
}

/** Throws unless the form's parameters are its module's, in order, and stand for each of the model's parameters exactly once. */
function checkCovers(form: TensorParallelModel, model: Module): void {
  const own = form.model.parameters();
  if (own.length !== form.parameters.length || own.some((p, i) => p !== form.parameters[i]!.local)) {
    throw new Error("--strategy tensor: the recipe's tensor-parallel form lists other parameters than its module has; list each of the module's parameters once, in order");
  }
  const seen = new Set(form.parameters.map((p) => p.full));
  const missing = model.namedParameters().find(([, p]) => !seen.has(p));
  if (missing || seen.size !== form.parameters.length) {
    throw new Error(`--strategy tensor: the recipe's tensor-parallel form does not stand for each parameter of the model once${missing ? ` ("${missing[0]}" is in no slice)` : ""}; build it from the model given to setup`);
  }
}
