// The contract between the training loop (src/train/fit.ts) and a way of training in parallel.
//
// A strategy owns the training step: the loop hands it a `forward` that computes this rank's loss,
// and the strategy runs backward, does its communication and applies the update. Owning the step
// is what makes it impossible to step the optimizer on gradients that were not yet averaged, and
// it is the one place each future strategy differs (Note [how strategies fit]):
//
//   single           backward, optimizer step (the baseline that changes nothing)
//   ddp              backward with bucketed all-reduces overlapping it, wait, step
//   parameter server workers push gradients and pull parameters; the servers own the optimizer,
//                    so step() sends instead of calling optimizer.step()
//   gossip           backward, local step, then average parameters with a neighbour
//   local SGD        backward, local step; every K steps average parameters (and DiLoCo's outer step)
//   pipeline         the rank holds some stages: step() runs the micro-batch schedule, forward
//                    and backward of its own stages, sending activations and gradients on
//   ZeRO             backward, reduce-scatter the gradients, step on this rank's shard of the
//                    optimizer state, all-gather the parameters
//
// Everything else (data, seeds, schedules, evaluation, progress, metrics, checkpoints, the result
// line) is the loop's, so a new strategy is one file.
import type { LayerStack, Module } from "../../nn/index.js";
import type { Optimizer } from "../../optim/index.js";
import type { Tensor } from "../../tensor/index.js";
import type { Traffic } from "../base/traffic-counter.js";
import type { ProcessGroup } from "../group/process-group.js";
import type { TensorParallelModel } from "../tensor-parallel/tensor-parallel-model.js";

export interface StepInput {
  /** The number of this step, counting from 1 as the metrics and checkpoints do, for messages. */
  step: number;
  /** Runs forward on this rank's batch and returns its loss (a scalar tensor). */
  forward: () => Tensor;
  /**
   * The batch `forward` computes on, for strategies that run the model's layer stack themselves
   * (pipeline stages, ZeRO stage 3) instead of calling `forward`.
   */
  batch?: unknown;
}

/** What the loop knows of the model beyond the module, for strategies that need it. */
export interface SetupContext {
  /** The model as a stack of layers (the recipe's `layers`), when the recipe describes one. */
  layers?: LayerStack<unknown> | undefined;
  /**
   * The recipe's tensor-parallel form of the model (Recipe.tensorParallel), built from the model
   * given to setup for one rank of `group`, when the recipe offers one.
   */
  tensorParallel?: ((group: ProcessGroup) => TensorParallelModel) | undefined;
}

/** Bytes a rank holds for training, by what they are for (the `memory` of the result line). */
export interface HeldMemory {
  parameters: number;
  gradients: number;
  optimizer: number;
}

/**
 * One tensor's part held by a rank of a sharded strategy: `data` is the range [start, end) of
 * the tensor along `dim`, or of its elements in row-major order when `dim` is "flat". A
 * checkpoint written as one file per rank (train/sharded-checkpoint.ts) stores these, and any
 * number of ranks, or one process, can assemble from them what they need.
 */
export interface TensorSlice {
  /** The whole tensor's shape. */
  shape: readonly number[];
  dim: number | "flat";
  start: number;
  end: number;
  data: Float32Array;
}

/** A rank's part of the training state: model tensors by name, optimizer state by "<parameter name>.<state name>". */
export interface StateShard {
  model: Record<string, TensorSlice>;
  optimizer: Record<string, TensorSlice>;
  /** The optimizer's update count (the same on every rank). */
  optimizerStep: number;
}

export interface StepOutcome {
  /**
   * The step's loss: this rank's own, or the average over ranks where the strategy communicates
   * it anyway (DDP averages it with the gradients), so every rank agrees on it.
   */
  loss: number;
  /** How long the step's communication ran, overlapped with compute or not, ms. */
  commMs: number;
  /** How long the step was blocked waiting for communication, ms. */
  waitMs: number;
  /** Numbers of the strategy's own for this step's metrics line (e.g. a parameter server's staleness). */
  metrics?: Record<string, number>;
  /**
   * The strategy did not train on this batch (an asynchronous run whose budget is spent: the
   * parameter server said stop, or a gossip neighbour said done): the loop counts no samples,
   * time or metrics line for it.
   */
  skipped?: boolean;
}

export type { Traffic };

export interface Strategy {
  /** The name `--strategy` takes ("single", "ddp"). */
  readonly name: string;
  /** This rank's index among the ranks training together, and their number. */
  readonly rank: number;
  readonly worldSize: number;
  /**
   * Which share of the data this rank reads: rank `rank` of `worldSize` shares (default: the
   * strategy's own rank and size). The ranks of one pipeline, or of one tensor-parallel group,
   * read the same batches, so they share a data rank.
   */
  readonly dataShard?: { rank: number; worldSize: number };
  /**
   * Once, before the first step: e.g. broadcast rank 0's parameters so replicas start equal, and
   * install gradient hooks. Call it after a checkpoint was loaded, so the loaded state is what is
   * broadcast.
   */
  setup(model: Module, optimizer: Optimizer, context?: SetupContext): Promise<void>;
  /**
   * One training step: zero the gradients, run `forward`, backward, communicate, update. A loss
   * that is not finite throws NonFiniteLossError before anything is updated, on every rank that
   * shares the loss.
   */
  step(input: StepInput): Promise<StepOutcome>;
  /**
   * Whether this rank writes the job's checkpoints and result. Strategies whose ranks hold the
   * same state (single, ddp) say yes on rank 0 only; sharded ones will write a file per rank.
   */
  writesCheckpoints(): boolean;
  /**
   * Strategies whose ranks hold different parts of the state (ZeRO, pipeline stages, tensor
   * parallel): this rank's part, copied now, for a checkpoint written as one file per rank. Every
   * rank's writesCheckpoints() is then true. Absent on strategies whose checkpoint rank holds it all.
   */
  stateShard?(): StateShard;
  /**
   * The most bytes this rank has held at once since setup in parameters, gradients and optimizer
   * state (absent: the whole model's, as a replica holds them; src/train/memory.ts).
   */
  memory?(): HeldMemory;
  /**
   * After the last step, before the final checkpoint and the evaluation: bring this rank's model
   * to the run's result. Synchronous strategies have nothing left to do; asynchronous ones do
   * (gossip drains its peers and averages the replicas, local SGD syncs its last partial round,
   * a parameter-server worker says it is done and pulls the final parameters).
   */
  finish(): Promise<void>;
  /** What the strategy adds to the result line (e.g. a parameter digest). */
  report(): Record<string, string | number | boolean>;
  /** Bytes this rank has moved so far (the process group's count; zeros for one process). */
  traffic(): Traffic;
  /** After the last step: release hooks and buffers (the process group stays the caller's). */
  end(): Promise<void>;
}
