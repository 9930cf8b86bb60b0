// Pipeline parallelism (GPipe, Huang et al. 2019; 1F1B as in PipeDream-Flush and Megatron-LM):
// the model's layer stack (nn/layer-stack.ts) is cut into S stages of consecutive layers, one per
// rank of a pipeline; each step's batch is split into M micro-batches that flow forward through
// the stages as activations and back as gradients, in the order the schedule gives
// (pipeline-schedule.ts); each stage then steps its own parameters. With --dp D there are D such
// pipelines, each reading its own share of the data, and each stage's gradients are averaged
// over its D copies before the step (pipeline-groups.ts).
//
// One step on stage s:
//  1. split the batch into M micro-batches (every stage does: later layers and the loss read it);
//     on the first step without --split, rank 0 measures each layer and every rank takes its cut
//     (Note [balancing by measured time] in pipeline-balance.ts);
//  2. run the stage's op list (pipeline-stage.ts): forwards receive the activation from s - 1 and
//     send theirs to s + 1; backwards receive the gradient from s + 1 and send theirs to s - 1;
//     the last stage turns each micro-batch's output into its loss and backpropagates it / M;
//  3. the last stage's mean loss goes to every stage (a broadcast), and over the D pipelines (an
//     average), so every rank has the step's loss and a non-finite one throws on every rank
//     before anything is updated;
//  4. with D > 1, the stage's gradients are averaged over its copies; the stage's optimizer steps.
//
// Note [a pipeline equals one process accumulating micro-batches]
// The activations and gradients cross between stages exactly (float32 in, float32 out), each
// layer runs the same ops on the same micro-batch as in one process, and every stage runs the
// backwards in micro-batch order whichever the schedule, so a pipeline computes bit for bit what
// one process computes by running the stack on each micro-batch and backpropagating loss / M,
// and gpipe and 1f1b, and any cut, train the same model. Against one process on the whole batch
// it differs by summation order only (the micro-batches' gradients are summed one after another
// instead of over the batch in one pass). Layers that draw random numbers (dropout) draw them on
// the stage's rank in the schedule's order, so they do not match one process's draws.
//
// Note [measuring the bubble]
// A stage's bubble is the fraction of its step it spends waiting for its neighbours rather than
// computing: blocked on a receive (an activation or a gradient), or in the broadcast of the loss
// that ends the pipeline's step (the flush), over the time from entering step() to the end of
// that broadcast. The flush counts because that is where a later stage sits while the earlier
// ones finish their backwards: its root, the last stage, waits there for every stage to arrive.
// A stage also waits at the start of a step while the stages before it fill the pipeline. With
// equal stages each stage idles S - 1 of M + S - 1 slots per step, (S - 1) / (M + S - 1), for
// GPipe and 1F1B alike (pipeline-schedule.ts simulates it). The data-parallel averaging and the
// optimizer step come after and are not in it. The first step is left out of the averages in
// report() (warm-up, and the cut being measured).
import { layerStackProblem, type LayerStack, type Module } from "../../nn/index.js";
import type { Optimizer } from "../../optim/index.js";
import { resetActivationPeak } from "../../tensor/index.js";
import { sharedFloat32Array } from "../base/shared-buffer.js";
import type { ProcessGroup } from "../group/process-group.js";
import { modelDigest } from "./flat-state.js";
import { checkFiniteLoss } from "./non-finite-loss.js";
import { balanceStages, measureLayerCosts, splitStarts } from "./pipeline-balance.js";
import { makePipelineGroups, type PipelineGroups } from "./pipeline-groups.js";
import { gpipeBubble, stageOps, type PipelineOp, type PipelineSchedule } from "./pipeline-schedule.js";
import { PipelineStage } from "./pipeline-stage.js";
import { readTensors, stageOptimizer, stageShard, stageTensors, wholeShard, writeTensors, type StageTensors } from "./pipeline-state.js";
import type { HeldMemory, SetupContext, StateShard, StepInput, StepOutcome, Strategy, Traffic } from "./strategy.js";
import { averageGradients } from "./average-gradients.js";

export interface PipelineOptions {
  stages: number;
  microBatches: number;
  schedule: PipelineSchedule;
  /** The first layer of each stage after the first (default: balanced by measured cost). */
  split?: readonly number[] | undefined;
  /** Pipelines side by side, data parallel (default 1); the group has stages x dp ranks. */
  dp?: number | undefined;
}

/** The stage this rank runs once the cut is known. */
interface Placed {
  stage: PipelineStage;
  tensors: StageTensors;
  optimizer: Optimizer;
  ops: PipelineOp[];
  starts: number[];
}

/** Running sums for report(): steps after the first (Note [measuring the bubble]). */
interface Books {
  steps: number;
  bubble: number;
  computeMs: number;
  spanMs: number;
  /** Handing sends to the network (pipeline-stage.ts, handOver). */
  sendMs: number;
}

const round = (v: number, digits: number): number => Math.round(v * 10 ** digits) / 10 ** digits;

/**
 * Pipeline parallelism over `pg`: `stages` x `dp` ranks, rank r being stage r mod S of pipeline
 * floor(r / S). Needs the model as a layer stack (SetupContext.layers) and the step's batch.
 *
 * @example Two stages in one process agree on the loss
 * ```ts
 * import { createInProcessGroups, Linear, manualSeed, mseLoss, ReLU, SGD, Sequential, sequentialLayerStack, tensor, type LayerStack } from "weft";
 * const pgs = createInProcessGroups(2);
 * const models = pgs.map(() => (manualSeed(0), new Sequential(new Linear(2, 4), new ReLU(), new Linear(4, 1))));
 * const strategies = pgs.map((pg) => new PipelineStrategy(pg, { stages: 2, microBatches: 2, schedule: "1f1b", split: [2] }));
 * type B = { x: ReturnType<typeof tensor>; y: ReturnType<typeof tensor> };
 * const layers = (m: Sequential) => sequentialLayerStack<B>(m, {
 *   input: (b) => b.x, loss: (out, b) => mseLoss(out, b.y), samplesIn: () => 2,
 *   split: (b) => [0, 1].map((i) => ({ x: tensor(b.x.toArray().slice(2 * i, 2 * i + 2), [1, 2]), y: tensor([b.y.toArray()[i]!], [1, 1]) })),
 * });
 * await Promise.all(strategies.map((s, r) => s.setup(models[r]!, new SGD(models[r]!.parameters(), { lr: 0.1 }), { layers: layers(models[r]!) as LayerStack<unknown> })));
 * const batch = { x: tensor([1, 2, 3, 4], [2, 2]), y: tensor([1, 0], [2, 1]) };
 * const out = await Promise.all(strategies.map((s) => s.step({ step: 1, forward: () => { throw new Error("unused"); }, batch })));
 * assert.equal(out[0]!.loss, out[1]!.loss);
 * await Promise.all(pgs.map((pg) => pg.destroy()));
 * ```
 */
export class PipelineStrategy implements Strategy {
  readonly name = "pipeline";
  readonly rank: number;
  readonly worldSize: number;
  readonly dataShard: { rank: number; worldSize: number };
  private readonly stages: number;
  private readonly microBatches: number;
  private readonly dp: number;
  /** This rank's stage (rank mod S), kept past end(), when report() is still read. */
  private readonly stageIndex: number;
  private groups: PipelineGroups | undefined;
  private model: Module | undefined;
  /** The model's optimizer: its learning rate (set by the schedule) is read every step. */
  private optimizer: Optimizer | undefined;
  private stack: LayerStack<unknown> | undefined;
  private placed: Placed | undefined;
  private whole = false;
  private first: Books | undefined;
  private readonly books: Books = { steps: 0, bubble: 0, computeMs: 0, spanMs: 0, sendMs: 0 };
  private livePeak = 0;
  private liveBytesPeak = 0;
  private gradientBytesPeak = 0;

  constructor(private readonly pg: ProcessGroup, private readonly options: PipelineOptions) {
    const { stages, microBatches } = options;
    const dp = options.dp ?? 1;
    for (const [flag, v] of [["--stages", stages], ["--micro-batches", microBatches], ["--dp", dp]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`pipeline: ${flag} must be an integer >= 1, got ${v}`);
    }
    if (stages * dp !== pg.worldSize) {
      throw new RangeError(`pipeline: --stages ${stages} x --dp ${dp} is ${stages * dp} workers, the job has ${pg.worldSize}: make --workers equal to --stages x --dp`);
    }
    this.stages = stages;
    this.microBatches = microBatches;
    this.dp = dp;
    this.stageIndex = pg.rank % stages;
    this.rank = pg.rank;
    this.worldSize = pg.worldSize;
    // Every stage of a pipeline reads the pipeline's batches.
    this.dataShard = { rank: Math.floor(pg.rank / stages), worldSize: dp };
  }

  async setup(model: Module, optimizer: Optimizer, context?: SetupContext): Promise<void> {
    if (this.model) throw new Error("PipelineStrategy.setup() called twice: make a new PipelineStrategy for another model or run");
    const stack = context?.layers;
    if (!stack) {
      throw new Error("pipeline: this recipe does not describe its model as a stack of layers (Recipe.layers), which --strategy pipeline cuts into stages: give the recipe `layers`, or use --strategy ddp");
    }
    const problem = layerStackProblem(model, stack);
    if (problem) throw new Error(`pipeline: the recipe's layer stack does not match its model: ${problem}`);
    const layers = stack.layers.length;
    if (this.stages > layers) {
      throw new RangeError(`pipeline: --stages ${this.stages} is more than the ${layers} layers of the model's layer stack; each stage needs a layer: use --stages ${layers} or fewer`);
    }
    const starts = this.options.split ? splitStarts(this.options.split, layers, this.stages) : undefined;
    this.model = model;
    this.optimizer = optimizer;
    this.stack = stack;
    this.groups = await makePipelineGroups(this.pg, this.stages, this.dp);
    // Every rank starts from rank 0's model, as DDP's replicas do.
    const all = [...model.parameters(), ...model.namedBuffers().map(([, t]) => t)];
    const flat = readTensors(all);
    await this.pg.broadcast(flat, 0);
    writeTensors(all, flat);
    if (starts) this.place(starts);
  }

  /** Takes this rank's stage of the cut `starts`. */
  private place(starts: number[]): void {
    const { stack, model, optimizer, groups } = this;
    const s = groups!.stage;
    const from = starts[s]!, to = starts[s + 1] ?? stack!.layers.length;
    const tensors = stageTensors(model!, stack!.layers.slice(from, to));
    this.placed = {
      stage: new PipelineStage({ stack: stack!, from, to, stage: s, stages: this.stages, group: groups!.pipeline }),
      tensors,
      optimizer: stageOptimizer(optimizer!, tensors.parameters.map(([, p]) => p)),
      ops: stageOps(this.options.schedule, s, this.stages, this.microBatches),
      starts,
    };
  }

  /** The first step without --split: rank 0 measures the layers and every rank takes its cut. */
  private async placeByCost(microBatch: unknown): Promise<void> {
    const starts = sharedFloat32Array(this.stages);
    if (this.rank === 0) starts.set(balanceStages(measureLayerCosts(this.stack!, microBatch), this.stages));
    await this.pg.broadcast(starts, 0);
    this.place(Array.from(starts));
    resetActivationPeak(); // the measurement's graph is gone; the step's own peak starts here
  }

  async step(input: StepInput): Promise<StepOutcome> {
    const { stack, optimizer, groups } = this;
    if (!stack || !optimizer || !groups) throw new Error("PipelineStrategy.step() before setup(): call await strategy.setup(model, optimizer, { layers }) first");
    if (input.batch === undefined) throw new Error("pipeline: the strategy runs the layer stack itself and needs the step's batch (StepInput.batch); fit() passes it");
    const microBatches = stack.split(input.batch, this.microBatches);
    if (!this.placed) await this.placeByCost(microBatches[0]);
    const placed = this.placed!;
    const started = performance.now();
    placed.optimizer.zeroGrad();
    const books = await placed.stage.run(placed.ops, microBatches);

    const t = performance.now();
    const loss = sharedFloat32Array(1);
    if (placed.stage.isLast) loss[0] = books.lossSum / this.microBatches;
    await groups.pipeline.broadcast(loss, this.stages - 1);
    const flushMs = performance.now() - t;
    const spanMs = performance.now() - started;
    if (groups.data) await groups.data.allReduce(loss, { op: "avg" });
    checkFiniteLoss(loss[0]!, input.step, `the mean over ${this.microBatches} micro-batches${this.dp > 1 ? ` and ${this.dp} pipelines` : ""}, from the last stage`);
    if (groups.data) await averageGradients(groups.data, placed.tensors.parameters.map(([, p]) => p));
    const collectiveMs = performance.now() - t;
    placed.optimizer.lr = optimizer.lr;
    placed.optimizer.step();

    const bubble = spanMs > 0 ? (books.recvWaitMs + flushMs) / spanMs : 0;
    this.note({ steps: 1, bubble, computeMs: books.computeMs, spanMs, sendMs: books.sendWaitMs });
    this.livePeak = Math.max(this.livePeak, books.livePeak);
    this.liveBytesPeak = Math.max(this.liveBytesPeak, books.liveBytesPeak);
    this.gradientBytesPeak = Math.max(this.gradientBytesPeak, placed.tensors.parameters.reduce((n, [, p]) => n + (p.grad ? p.size * 4 : 0), 0));
    const blockedMs = books.recvWaitMs + books.sendWaitMs + collectiveMs;
    return {
      loss: loss[0]!,
      commMs: blockedMs,
      waitMs: blockedMs,
      metrics: {
        pipeline_stage: groups.stage, pipeline_bubble: round(bubble, 4), pipeline_compute_ms: round(books.computeMs, 2),
        pipeline_span_ms: round(spanMs, 2), pipeline_send_ms: round(books.sendWaitMs, 2), pipeline_live_micro_batches: books.livePeak,
      },
    };
  }

  private note(step: Books): void {
    if (!this.first) {
      this.first = step;
      return;
    }
    this.books.steps++;
    this.books.bubble += step.bubble;
    this.books.computeMs += step.computeMs;
    this.books.spanMs += step.spanMs;
    this.books.sendMs += step.sendMs;
  }

  /** The averages of report(): steps after the first, or the first alone if it was the only one. */
  private averages(): Books {
    const b = this.books.steps > 0 ? this.books : this.first ?? { steps: 1, bubble: 0, computeMs: 0, spanMs: 0, sendMs: 0 };
    const n = Math.max(1, b.steps);
    return { steps: b.steps, bubble: b.bubble / n, computeMs: b.computeMs / n, spanMs: b.spanMs / n, sendMs: b.sendMs / n };
  }

  /** Each stage hands its layers to the rest of its pipeline, so every rank (rank 0 too) ends with the whole model. */
  async finish(): Promise<void> {
    const { placed, groups, stack, model } = this;
    if (!placed || !groups || !stack || !model) return; // no cut was made: every rank still holds the whole model
    for (let s = 0; s < this.stages; s++) {
      const from = placed.starts[s]!, to = placed.starts[s + 1] ?? stack.layers.length;
      const t = stageTensors(model, stack.layers.slice(from, to));
      const tensors = [...t.parameters, ...t.buffers].map(([, x]) => x);
      const flat = readTensors(tensors);
      await groups.pipeline.broadcast(flat, s);
      writeTensors(tensors, flat);
    }
    this.whole = true;
  }

  /** Every rank writes its stage's file (train/sharded-checkpoint.ts). */
  writesCheckpoints(): boolean {
    return true;
  }

  /**
   * The stage's parameters, buffers and optimizer state, on the first pipeline's ranks; the other
   * pipelines hold copies of the same and write empty shards, so each tensor is in one file.
   * Before a cut is made every rank holds everything, and rank 0 writes it all.
   */
  stateShard(): StateShard {
    const { placed, model, optimizer } = this;
    const empty: StateShard = { model: {}, optimizer: {}, optimizerStep: placed?.optimizer.stepCount ?? optimizer?.stepCount ?? 0 };
    if (!model || !optimizer) return empty;
    if (!placed) return this.rank === 0 ? wholeShard(model, optimizer) : empty;
    return this.dataShard.rank === 0 ? stageShard(placed.tensors, placed.optimizer) : empty;
  }

  /**
   * The stage's own parameters, gradients and optimizer state. The recipe builds the whole model
   * on every rank, so the other stages' initial parameters stay allocated beside them (and are
   * filled in at finish()); a stage needs only its own.
   */
  memory(): HeldMemory {
    const { placed, model, optimizer } = this;
    const stateBytes = (o: Optimizer | undefined): number => Object.values(o?.stateDict().buffers ?? {}).reduce((n, b) => n + b.byteLength, 0);
    if (!placed) return { parameters: (model?.parameters() ?? []).reduce((n, p) => n + p.size * 4, 0), gradients: 0, optimizer: stateBytes(optimizer) };
    return {
      parameters: placed.tensors.parameters.reduce((n, [, p]) => n + p.size * 4, 0),
      gradients: this.gradientBytesPeak,
      optimizer: stateBytes(placed.optimizer),
    };
  }

  /** The cut, this stage's measured bubble and times, its live micro-batches; the digest once the model is whole. */
  report(): Record<string, string | number | boolean> {
    const a = this.averages();
    const p = this.placed;
    const names = this.stack?.layers.map((l) => l.name) ?? [];
    const to = p ? (p.starts[this.stageIndex + 1] ?? names.length) : names.length;
    const from = p ? p.starts[this.stageIndex]! : 0;
    return {
      digest: this.whole && this.model ? modelDigest(this.model) : "",
      transport: this.pg.transport,
      pipeline_stages: this.stages, pipeline_micro_batches: this.microBatches, pipeline_schedule: this.options.schedule, pipeline_dp: this.dp,
      pipeline_stage: this.stageIndex,
      pipeline_split: p ? p.starts.slice(1).join(",") : "",
      stage_layers: names.length > 0 ? `${names[from]}..${names[to - 1]}` : "",
      bubble: round(a.bubble, 4),
      bubble_formula: round(gpipeBubble(this.stages, this.microBatches), 4),
      stage_compute_ms: round(a.computeMs, 2),
      stage_step_ms: round(a.spanMs, 2),
      stage_send_ms: round(a.sendMs, 2),
      live_micro_batches_peak: this.livePeak,
      stage_activation_bytes_peak: this.liveBytesPeak,
    };
  }

  traffic(): Traffic {
    return this.pg.traffic();
  }

  /** Destroys the pipeline and data-parallel subgroups (the job's group stays the caller's). */
  async end(): Promise<void> {
    const made = this.groups?.made ?? [];
    this.groups = undefined;
    await Promise.all(made.map((g) => g.destroy()));
  }
}
