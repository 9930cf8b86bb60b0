// Sharded data parallelism: ZeRO (Rajbhandari et al. 2020, DeepSpeed) and PyTorch's FSDP. Every
// rank trains on its own data as in DDP, but the state a replica would repeat is split across
// the ranks (Note [zero units] in zero-layout.ts):
//
//   stage 1  optimizer state: each rank steps only its chunk of the parameters, with the averaged
//            gradients of that chunk (a reduce-scatter after backward), then an all-gather of
//            the chunks makes the parameters whole again on every rank;
//   stage 2  and gradients: each unit's gradients are reduce-scattered during backward as soon as
//            they are complete and the full-size gradients dropped, so a rank holds its chunk and
//            the units in flight rather than a whole model's gradients;
//   stage 3  and parameters: a rank keeps only its chunks; a layer's parameters are gathered just
//            before it runs and dropped after (zero-stage3.ts), the next layer's gather started
//            before the current one computes.
//
// Note [zero matches DDP]
// The update is the one DDP takes: the gradients are averaged over the ranks (a reduce-scatter
// with the ring's fixed order instead of an all-reduce), Adam and SGD are elementwise, so a chunk
// stepped alone moves as it would inside the whole vector, and the all-gather copies each chunk
// from its one owner, so every rank ends the step with the same parameters, bit for bit. Against
// a single process on the union of the ranks' batches it differs by summation order only.
import { layerStackProblem, type LayerStack, type Module } from "../../nn/index.js";
import type { Optimizer } from "../../optim/index.js";
import { Tensor } from "../../tensor/index.js";
import { sharedFloat32Array } from "../base/shared-buffer.js";
import type { ProcessGroup, Work } from "../group/process-group.js";
import { DEFAULT_BUCKET_BYTES } from "./ddp.js";
import { modelDigest } from "./flat-state.js";
import { checkFiniteLoss } from "./non-finite-loss.js";
import type { HeldMemory, SetupContext, StateShard, StepInput, StepOutcome, Strategy, Traffic } from "./strategy.js";
import {
  bucketGroups, buildUnits, ownedRange, ownedSlices, packGradients, readUnit, rehomeUnit, shardOptimizerState, type ZeroUnit,
} from "./zero-layout.js";
import { ByteGauge, CommClock } from "./zero-accounting.js";
import { gatherUnit, layerUnits, releaseUnit, runLayeredStep } from "./zero-stage3.js";

export type ZeroStage = 1 | 2 | 3;

export interface ZeroOptions {
  stage: ZeroStage;
  /** Stages 1 and 2: target unit size in bytes (default DDP's bucket size). */
  bucketBytes?: number;
}

/**
 * ZeRO over `pg`, stage 1, 2 or 3. Stage 3 needs the model as a layer stack (SetupContext.layers).
 *
 * @example Two ranks in one process: stage 2 keeps the replicas identical
 * ```ts
 * import { createInProcessGroups, Linear, manualSeed, mseLoss, SGD, tensor, ZeroStrategy } from "weft";
 * const strategies = createInProcessGroups(2).map((pg) => new ZeroStrategy(pg, { stage: 2 }));
 * const models = strategies.map(() => (manualSeed(0), new Linear(3, 2)));
 * await Promise.all(strategies.map((s, r) => s.setup(models[r]!, new SGD(models[r]!.parameters(), { lr: 0.1 }))));
 * const x = [tensor([1, 2, 3], [1, 3]), tensor([4, 5, 6], [1, 3])];
 * const y = tensor([1, 0], [1, 2]);
 * await Promise.all(strategies.map((s, r) => s.step({ step: 1, forward: () => mseLoss(models[r]!.forward(x[r]!), y) })));
 * assert.equal(strategies[0]!.report().digest, strategies[1]!.report().digest);
 * ```
 */
export class ZeroStrategy implements Strategy {
  readonly name = "zero";
  readonly rank: number;
  readonly worldSize: number;
  private units: ZeroUnit[] = [];
  /** Stages 1 and 2: each unit's whole parameters, which the model's parameters are views of. */
  private fulls: Float32Array[] = [];
  private model: Module | undefined;
  /** The model's optimizer: its learning rate (set by the schedule) is read every step. */
  private optimizer: Optimizer | undefined;
  private shardOptimizer: Optimizer | undefined;
  private layers: LayerStack<unknown> | undefined;
  /** Stage 3: each layer's unit (undefined for a layer without parameters). */
  private unitOf: (ZeroUnit | undefined)[] = [];
  private unhooks: (() => void)[] = [];
  /** Stage 2: units whose gradients are complete, launched strictly in index order. */
  private ready: boolean[] = [];
  private launched = 0;
  private gradWork: Work[] = [];
  readonly parameters = new ByteGauge();
  readonly gradients = new ByteGauge();

  constructor(private readonly pg: ProcessGroup, private readonly options: ZeroOptions) {
    if (![1, 2, 3].includes(options.stage)) throw new RangeError(`ZeroStrategy: stage must be 1, 2 or 3, got ${options.stage}`);
    this.rank = pg.rank;
    this.worldSize = pg.worldSize;
  }

  get stage(): ZeroStage {
    return this.options.stage;
  }

  async setup(model: Module, optimizer: Optimizer, context?: SetupContext): Promise<void> {
    if (this.model) throw new Error("ZeroStrategy.setup() called twice: make a new ZeroStrategy for another model or run");
    this.model = model;
    this.optimizer = optimizer;
    const names = new Map(model.namedParameters().map(([n, p]) => [p, n]));
    let groups;
    if (this.stage === 3) {
      const layers = context?.layers;
      if (!layers) throw new Error("zero --stage 3 gathers the model layer by layer, and this recipe does not describe its layers (Recipe.layers): use --stage 1 or 2");
      const problem = layerStackProblem(model, layers);
      if (problem) throw new Error(`zero --stage 3: the recipe's layer stack does not match its model: ${problem}`);
      this.layers = layers;
      groups = layers.layers.map((l) => ({ label: l.name, params: l.module.parameters().map((p) => [names.get(p)!, p] as [string, typeof p]) }));
    } else {
      groups = bucketGroups(model, this.options.bucketBytes ?? DEFAULT_BUCKET_BYTES);
    }
    this.units = buildUnits(groups, this.worldSize);
    if (this.layers) this.unitOf = layerUnits(this.layers, this.units);
    // Every rank starts from rank 0's parameters (as DDP does), and keeps its own chunk of them.
    for (const unit of this.units) {
      const full = readUnit(unit);
      await this.pg.broadcast(full, 0);
      const own = ownedRange(unit, this.rank);
      unit.shardParams.set(full.subarray(own.start, own.end));
      if (this.stage === 3) {
        releaseUnit(unit);
      } else {
        rehomeUnit(unit, full);
        this.fulls.push(full);
        this.parameters.add(unit.padded * 4);
      }
      this.parameters.add(unit.chunk * 4);
      this.gradients.add(unit.chunk * 4);
    }
    const shards = this.units.map((u) => {
      const t = new Tensor(u.shardParams, [u.chunk]);
      t.grad = new Tensor(u.shardGrads, [u.chunk]);
      return t;
    });
    this.shardOptimizer = optimizer.withParams(shards);
    this.shardOptimizer.loadStateDict(shardOptimizerState(this.units, this.rank, optimizer));
    if (this.stage !== 3) this.installHooks();
  }

  /** Counts gradients as they appear; stage 2 launches each unit's reduce-scatter once its gradients are complete. */
  private installHooks(): void {
    this.units.forEach((unit, u) => {
      let filled = 0;
      for (const m of unit.members) {
        this.unhooks.push(m.param.onGradReady((p) => {
          this.gradients.add(p.size * 4);
          if (++filled < unit.members.length) return;
          filled = 0;
          if (this.stage === 2) {
            this.ready[u] = true;
            this.launchReady();
          }
        }));
      }
    });
  }

  /** Starts the reduce-scatters of the units whose turn has come (every rank issues them in index order). */
  private launchReady(all = false): void {
    while (this.launched < this.units.length && (all || this.ready[this.launched])) this.reduceScatter(this.launched++);
  }

  private readonly clock = new CommClock();

  private reduceScatter(u: number): void {
    const unit = this.units[u]!;
    const held = unit.members.reduce((n, m) => n + (m.param.grad ? m.param.size * 4 : 0), 0);
    const flat = packGradients(unit);
    this.gradients.add(unit.padded * 4 - held);
    const work = this.clock.start(() => this.pg.reduceScatterAsync(flat, unit.shardGrads, { op: "avg" }));
    // Through shared memory the reduce-scatter has run by now (inline) and `flat` is garbage
    // already, while backward, which called this hook, keeps the thread until it is done: count it
    // freed now. Over TCP it is freed when the operation completes.
    if (this.pg.transport === "shared-memory") this.gradients.sub(unit.padded * 4);
    else void work.wait().then(() => this.gradients.sub(unit.padded * 4), () => {});
    this.gradWork.push(work);
  }

  async step(input: StepInput): Promise<StepOutcome> {
    const { optimizer, shardOptimizer } = this;
    if (!optimizer || !shardOptimizer) throw new Error("ZeroStrategy.step() before setup(): call await strategy.setup(model, optimizer) first");
    this.clock.reset();
    const lossBuffer = sharedFloat32Array(1);
    let lossWork: Work;
    if (this.stage === 3) {
      if (input.batch === undefined) throw new Error("zero --stage 3 runs the layer stack itself and needs the step's batch (StepInput.batch); fit() passes it");
      const out = await runLayeredStep({
        pg: this.pg, stack: this.layers!, unitOf: this.unitOf, batch: input.batch, clock: this.clock,
        parameters: this.parameters, gradients: this.gradients,
        onLoss: (value) => {
          lossBuffer[0] = value;
          return this.clock.start(() => this.pg.allReduceAsync(lossBuffer, { op: "avg", wire: "f32" }));
        },
      });
      lossWork = out.lossWork;
      this.gradWork = out.gradWork;
    } else {
      optimizer.zeroGrad();
      const loss = input.forward();
      lossBuffer[0] = loss.item();
      // Note [the loss is averaged beside the gradients] in ddp.ts: in f32, before backward (on shared
      // memory too, where DDP waits for the gradients instead: the ranks meet twice a step here).
      lossWork = this.clock.start(() => this.pg.allReduceAsync(lossBuffer, { op: "avg", wire: "f32" }));
      this.ready = [];
      this.launched = 0;
      this.gradWork = [];
      loss.backward();
      this.launchReady(true); // stage 1 all of them; stage 2 those no gradient reached (unused parameters)
    }
    await this.clock.wait([lossWork, ...this.gradWork]);
    const averaged = lossBuffer[0]!;
    checkFiniteLoss(averaged, input.step, `averaged over ${this.worldSize} ranks`);
    shardOptimizer.lr = optimizer.lr;
    shardOptimizer.step();
    if (this.stage !== 3) {
      const gathers = this.units.map((unit, u) => this.clock.start(() => this.pg.allGatherAsync(unit.shardParams, this.fulls[u]!)));
      await this.clock.wait(gathers);
    }
    return { loss: averaged, commMs: this.clock.spanMs(), waitMs: this.clock.waitMs };
  }

  /**
   * Stage 3: gathers every layer for good, so the model is whole for the evaluation and the
   * result. That is after training, parameters only, and not counted in memory(), which reports
   * what the training steps held.
   */
  async finish(): Promise<void> {
    if (this.stage !== 3) return;
    const gathered = this.units.map((unit) => gatherUnit(this.pg, unit, new ByteGauge()));
    await Promise.all(gathered.map((g) => g.work.wait()));
    this.units.forEach((unit, u) => rehomeUnit(unit, gathered[u]!.full));
  }

  /** Every rank writes its chunk of the parameters and of the optimizer state (train/sharded-checkpoint.ts). */
  writesCheckpoints(): boolean {
    return true;
  }

  stateShard(): StateShard {
    const shard: StateShard = { model: {}, optimizer: {}, optimizerStep: this.shardOptimizer?.stepCount ?? 0 };
    const buffers: Record<string, Float32Array> = this.shardOptimizer?.stateDict().buffers ?? {};
    this.units.forEach((unit, u) => {
      ownedSlices(unit, this.rank, unit.shardParams, (m) => m.name, shard.model);
      for (const [key, values] of Object.entries(buffers)) {
        if (!key.startsWith(`${u}.`)) continue;
        const state = key.slice(`${u}.`.length);
        ownedSlices(unit, this.rank, values, (m) => `${m.name}.${state}`, shard.optimizer);
      }
    });
    return shard;
  }

  memory(): HeldMemory {
    const buffers: Record<string, Float32Array> = this.shardOptimizer?.stateDict().buffers ?? {};
    const optimizer = Object.values(buffers).reduce((n, b) => n + b.length * 4, 0);
    return { parameters: this.parameters.peak, gradients: this.gradients.peak, optimizer };
  }

  /** The parameter digest (every rank's is the same once the parameters are whole: stages 1 and 2 always, stage 3 after finish). */
  report(): Record<string, string | number | boolean> {
    const whole = this.stage !== 3 || this.units.every((u) => u.members.every((m) => m.param.data.length === m.param.size));
    return { digest: whole && this.model ? modelDigest(this.model) : "", transport: this.pg.transport, zero_stage: this.stage };
  }

  traffic(): Traffic {
    return this.pg.traffic();
  }

  async end(): Promise<void> {
    for (const unhook of this.unhooks) unhook();
    this.unhooks = [];
  }
}
