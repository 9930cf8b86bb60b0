// Synchronous data parallelism as a Strategy: DistributedDataParallel (ddp.ts) does the bucketed,
// overlapped gradient all-reduce; this file is the step around it. The step's loss is averaged
// beside the gradients (Note [the loss is averaged beside the gradients] in ddp.ts), so every rank
// sees the same loss, and a non-finite one stops every rank before any of them updates.
import type { Module } from "../../nn/index.js";
import type { Optimizer } from "../../optim/index.js";
import type { ProcessGroup } from "../group/process-group.js";
import { DistributedDataParallel, type DdpOptions } from "./ddp.js";
import { checkFiniteLoss } from "./non-finite-loss.js";
import type { StepInput, StepOutcome, Strategy, Traffic } from "./strategy.js";

export type DdpStrategyOptions = DdpOptions;

/**
 * Data-parallel training over `pg`: every rank trains a replica on its own shard of the data, and
 * the gradients are averaged before every step, so the replicas stay bitwise identical.
 *
 * @example Two replicas in one process stay identical
 * ```ts
 * import { createInProcessGroups, DdpStrategy, Linear, manualSeed, mseLoss, SGD, tensor } from "weft";
 * const strategies = createInProcessGroups(2).map((pg) => new DdpStrategy(pg));
 * const models = strategies.map((_, rank) => (manualSeed(rank), new Linear(2, 1)));  // different starts
 * await Promise.all(strategies.map((s, r) => s.setup(models[r]!, new SGD(models[r]!.parameters(), { lr: 0.1 }))));
 * const x = [tensor([1, 2], [1, 2]), tensor([3, 4], [1, 2])];   // each rank's own batch
 * const y = tensor([1], [1, 1]);
 * const outcomes = await Promise.all(strategies.map((s, r) => s.step({ step: 0, forward: () => mseLoss(models[r]!.forward(x[r]!), y) })));
 * assert.equal(outcomes[0]!.loss, outcomes[1]!.loss);             // the loss is averaged too
 * assert.equal(strategies[0]!.report().digest, strategies[1]!.report().digest);
 * ```
 */
export class DdpStrategy implements Strategy {
  readonly name = "ddp";
  readonly rank: number;
  readonly worldSize: number;
  private ddp: DistributedDataParallel | undefined;
  private optimizer: Optimizer | undefined;

  constructor(private readonly pg: ProcessGroup, private readonly options: DdpStrategyOptions = {}) {
    this.rank = pg.rank;
    this.worldSize = pg.worldSize;
  }

  async setup(model: Module, optimizer: Optimizer): Promise<void> {
    if (this.ddp) throw new Error("DdpStrategy.setup() called twice: make a new DdpStrategy for another model or run");
    this.ddp = await DistributedDataParallel.create(model, this.pg, this.options);
    this.optimizer = optimizer;
  }

  async step({ step, forward }: StepInput): Promise<StepOutcome> {
    const { ddp, optimizer } = this;
    if (!ddp || !optimizer) throw new Error("DdpStrategy.step() before setup(): call await strategy.setup(model, optimizer) first");
    optimizer.zeroGrad();
    const loss = forward();
    ddp.setLoss(loss.item());
    loss.backward();
    await ddp.finishGradients();
    const averaged = ddp.averagedLoss();
    checkFiniteLoss(averaged, step, `averaged over ${this.worldSize} ranks`);
    optimizer.step();
    const { commMs, waitMs } = ddp.lastTiming;
    return { loss: averaged, commMs, waitMs };
  }

  async finish(): Promise<void> {}

  writesCheckpoints(): boolean {
    return this.rank === 0;
  }

  /** The parameter digest (equal on every rank, Note [bitwise-identical replicas]), the transport and the gradient hook. */
  report(): Record<string, string | number | boolean> {
    return { digest: this.ddp?.parameterDigest() ?? "", transport: this.pg.transport, grad_compression: this.ddp?.gradCompression ?? "none" };
  }

  traffic(): Traffic {
    return this.pg.traffic();
  }

  /** Removes DDP's gradient hooks, so the model trains on its own again (or under a new strategy). */
  async end(): Promise<void> {
    this.ddp?.detach();
  }
}
