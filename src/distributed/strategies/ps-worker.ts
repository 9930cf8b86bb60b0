// The worker's side of parameter-server training, as a Strategy: the training loop runs it on job
// ranks 0..W-1 while ranks W..W+S-1 run the servers (ps-server.ts). The servers own the
// parameters and the optimizer; a worker computes gradients and keeps a copy of the parameters to
// compute them on, so its step() never calls optimizer.step() (the optimizer it is given only
// clears gradients, and its state stays empty).
//
// One step: zero the gradients, forward, check the loss (this worker's own: workers do not
// average it), backward, then for every server at once: flatten the shard's gradients into that
// server's message (a header with the step, ps-protocol.ts) and send it, and post the receive of
// the shard's new parameters behind it on the same pair group. The pushes to different servers
// travel together (each pair group has its own engine and, over TCP, its own comm thread), and
// each shard's parameters are copied into the model as soon as they arrive, while others are
// still on their way. What the servers do with the gradient (average and wait, apply at once, or
// hold the reply) is their mode's business; the worker's step is the same in all three.
//
// Not done: starting a shard's push during backward, as DDP starts its buckets. Shards are
// balanced by size, not by the order backward finishes them, so a shard is rarely complete
// before backward is; with one server there is nothing to overlap with.
import { createHash } from "node:crypto";
import type { Module } from "../../nn/index.js";
import type { Optimizer } from "../../optim/index.js";
import type { Tensor } from "../../tensor/index.js";
import { sharedFloat32Array } from "../base/shared-buffer.js";
import { DEFAULT_ENGINE_OPTIONS } from "../collectives/engine.js";
import type { ProcessGroup } from "../group/process-group.js";
import { modelDigest } from "./flat-state.js";
import { checkFiniteLoss } from "./non-finite-loss.js";
import {
  causeText, connectPairs, FLAG_FINISH_WAITS, FLAG_STEP_WAITS, FLAG_STOP, H_FINISH_PATIENCE, H_FLAGS, H_KIND, H_LEAD, H_STALENESS, H_STEP,
  H_STEP_PATIENCE, HEADER_FLOATS, KIND_DONE, KIND_GRADIENT, KIND_PARAMETERS, ParameterServerError, PATIENCE_FACTOR, serverName, shardSlice,
} from "./ps-protocol.js";
import { assignShards, type Shard } from "./ps-shards.js";
import type { StepInput, StepOutcome, Strategy, Traffic } from "./strategy.js";

/** The digest of no tensors: what report() says before setup() gave it a model. */
const EMPTY_DIGEST = createHash("sha256").digest("hex");

/** The longest delay a timer takes (setTimeout fires at once past it). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ParameterServerStrategyOptions {
  /** Training workers in the job: ranks 0..workers-1 of the group. */
  workers: number;
  /** Servers after them: ranks workers..workers+servers-1. */
  servers: number;
  /**
   * Deadline of each push and pull, ms (default: the group's, 30 s unless configured). A pull that
   * may wait for slower workers gets the server's patience on top (Note [waiting for a slower
   * worker] in ps-protocol.ts), added to this or, without it, to 30 s.
   */
  timeoutMs?: number;
}

/**
 * A parameter-server worker: pushes each step's gradients to the servers that own them and pulls
 * the updated parameters back. Pair it with `runParameterServer` on the server ranks; the servers'
 * mode (sync, async, ssp) decides when the reply comes.
 *
 * @example Two workers and a sync server: every step is the average of both gradients
 * ```ts
 * import { createInProcessGroups, Linear, manualSeed, mseLoss, ParameterServerStrategy, runParameterServer, SGD, tensor } from "weft";
 * const pgs = createInProcessGroups(3);                   // workers 0 and 1, server 2
 * const build = () => (manualSeed(0), new Linear(1, 1, { bias: false }));
 * const serverModel = build();
 * const served = runParameterServer({
 *   pg: pgs[2]!, workers: 2, servers: 1, mode: "sync", model: serverModel,
 *   optimizer: new SGD(serverModel.parameters(), { lr: 0.1 }),
 * });
 * const models = [build(), build()];
 * const workers = models.map((m, r) => new ParameterServerStrategy(pgs[r]!, { workers: 2, servers: 1 }));
 * await Promise.all(workers.map((ps, r) => ps.setup(models[r]!, new SGD(models[r]!.parameters(), { lr: 0.1 }))));
 * const w0 = models[0]!.weight.item();
 * const xs = [tensor([1], [1, 1]), tensor([2], [1, 1])];    // d/dw (w x)^2 = 2 w x^2: 2w and 8w, average 5w
 * await Promise.all(workers.map((ps, r) => ps.step({ step: 1, forward: () => mseLoss(models[r]!.forward(xs[r]!), tensor([0], [1, 1])) })));
 * assert.ok(Math.abs(models[0]!.weight.item() - (w0 - 0.1 * 5 * w0)) < 1e-6);   // one SGD step on the average
 * assert.equal(models[0]!.weight.item(), models[1]!.weight.item());
 * await Promise.all(workers.map((ps) => ps.finish()));
 * assert.equal((await served).updates, 1);
 * await Promise.all(pgs.map((pg) => pg.destroy()));
 * ```
 */
export class ParameterServerStrategy implements Strategy {
  readonly name = "ps";
  readonly rank: number;
  /** The training workers (the servers are not counted: they take no steps). */
  readonly worldSize: number;
  private readonly servers: number;
  private model: Module | undefined;
  private optimizer: Optimizer | undefined;
  private params: Tensor[] = [];
  private shards: Shard[] = [];
  private pairs: ProcessGroup[] = [];
  /** Per server: the message of this worker's gradients, and the one the parameters arrive in. */
  private push: Float32Array[] = [];
  private pull: Float32Array[] = [];
  /** An async server said the run is over (Note [the end of an async run] in ps-server.ts). */
  private stopped = false;
  private finished = false;
  private skipped = 0;
  /** The last step taken or skipped; after setup() the step the servers resumed at (0 for a fresh run). */
  private lastStep = 0;
  /** Per server, from its latest reply: whether (and how long, ms) the next step's pull and the final pull may wait for slower workers. */
  private stepWaits: { may: boolean; patienceMs: number }[] = [];
  private finishWaits: { may: boolean; patienceMs: number }[] = [];
  private lastLoss = NaN;

  constructor(private readonly pg: ProcessGroup, private readonly options: ParameterServerStrategyOptions) {
    const { workers, servers } = options;
    if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`ParameterServerStrategy: workers must be an integer >= 1, got ${workers}`);
    if (!Number.isInteger(servers) || servers < 1) throw new RangeError(`ParameterServerStrategy: servers must be an integer >= 1, got ${servers}`);
    if (pg.worldSize !== workers + servers) {
      throw new RangeError(`ParameterServerStrategy: the group has ${pg.worldSize} ranks, but ${workers} workers and ${servers} servers need ${workers + servers}`);
    }
    if (pg.rank >= workers) throw new RangeError(`ParameterServerStrategy: rank ${pg.rank} is a server (ranks ${workers}..${workers + servers - 1}); run runParameterServer there`);
    this.rank = pg.rank;
    this.worldSize = workers;
    this.servers = servers;
  }

  /** Connects to every server and pulls the parameters the run starts from (a resumed server's, for one). */
  async setup(model: Module, optimizer: Optimizer): Promise<void> {
    if (this.model) throw new Error("ParameterServerStrategy.setup() called twice: make a new ParameterServerStrategy for another model or run");
    this.model = model;
    this.optimizer = optimizer;
    this.params = model.parameters();
    this.shards = assignShards(this.params.map((p) => p.size), this.servers);
    const empty = this.shards.find((s) => s.params.length === 0);
    if (empty) {
      throw new RangeError(`ParameterServerStrategy: the model has ${this.params.length} tensors, fewer than the ${this.servers} servers (shard ${empty.index} would be empty); use at most ${this.params.length} servers`);
    }
    this.pairs = await connectPairs(this.pg, this.worldSize, this.servers);
    this.push = this.shards.map((s) => sharedFloat32Array(HEADER_FLOATS + s.size));
    this.pull = this.shards.map((s) => sharedFloat32Array(HEADER_FLOATS + s.size));
    this.stepWaits = this.shards.map(() => ({ may: false, patienceMs: 0 }));
    this.finishWaits = this.shards.map(() => ({ may: false, patienceMs: 0 }));
    await Promise.all(this.shards.map((_, k) => this.receive(k, 0, "pulling the starting parameters", "setup")));
    // The servers answer the pull with the step they start from: a resumed run's, so a "done"
    // before any step (a run resumed at its last step) names that step, not 0.
    this.lastStep = Math.max(...this.pull.map((box) => box[H_STEP]!));
  }

  async step({ step, forward }: StepInput): Promise<StepOutcome> {
    const { optimizer } = this;
    if (!optimizer) throw new Error("ParameterServerStrategy.step() before setup(): call await strategy.setup(model, optimizer) first");
    if (this.finished) throw new Error("ParameterServerStrategy.step() after finish(): the servers were told this worker is done");
    this.lastStep = step;
    if (this.stopped) {
      // The async run is over; the rest of this worker's steps are skipped, not computed, and fit
      // leaves them out of its samples, step times, metrics lines and checkpoints.
      this.skipped++;
      return { loss: this.lastLoss, commMs: 0, waitMs: 0, skipped: true };
    }
    optimizer.zeroGrad();
    const loss = forward();
    const value = loss.item();
    checkFiniteLoss(value, step, `worker rank ${this.rank}'s own loss`);
    loss.backward();
    this.lastLoss = value;

    const t0 = performance.now();
    let copyMs = 0;
    const replies = this.shards.map((shard, k) => {
      const box = this.push[k]!;
      box.fill(0, 0, HEADER_FLOATS);
      box[H_KIND] = KIND_GRADIENT;
      box[H_STEP] = step;
      shard.params.forEach((i, j) => {
        const p = this.params[i]!;
        const at = shardSlice(box, shard, j, p.size);
        if (p.grad) at.set(p.grad.dense());
        else at.fill(0); // not used in this forward: its gradient is zero
      });
      const sent = this.send(k, step, `pushing the gradients of step ${step}`);
      return Promise.all([sent, this.receive(k, step, `pulling the parameters after step ${step}`, "step")]).then(([, r]) => {
        copyMs += r.copyMs;
        return r;
      });
    });
    const submitted = performance.now();
    const got = await Promise.all(replies);
    const t1 = performance.now();
    let staleness = 0, lead = 0;
    for (const r of got) {
      staleness = Math.max(staleness, r.staleness);
      lead = Math.max(lead, r.lead);
      if (r.stop) this.stopped = true;
    }
    return { loss: value, commMs: t1 - t0, waitMs: Math.max(0, t1 - submitted - copyMs), metrics: { staleness, lead } };
  }

  /** Tells every server this worker is done and pulls the final parameters (sent once every worker is done). */
  async finish(): Promise<void> {
    if (!this.model) throw new Error("ParameterServerStrategy.finish() before setup()");
    if (this.finished) return;
    this.finished = true;
    await Promise.all(this.shards.map((_, k) => {
      const box = this.push[k]!;
      box.fill(0, 0, HEADER_FLOATS);
      box[H_KIND] = KIND_DONE;
      box[H_STEP] = this.lastStep;
      return Promise.all([this.send(k, this.lastStep, "saying this worker is done"), this.receive(k, this.lastStep, "pulling the final parameters", "finish")]);
    }));
  }

  writesCheckpoints(): boolean {
    return this.rank === 0;
  }

  /**
   * The servers, the steps this worker skipped (async: after the run was over), and the digest of
   * its parameters and buffers (as DDP's; after finish() the parameters are the servers', the same
   * on every worker).
   */
  report(): Record<string, string | number | boolean> {
    return { servers: this.servers, steps_skipped: this.skipped, digest: this.model ? modelDigest(this.model) : EMPTY_DIGEST };
  }

  traffic(): Traffic {
    return this.pg.traffic();
  }

  /**
   * Closes this worker's pair groups: after a failure the servers learn at once that it is gone
   * (rather than at their deadline). The job's group stays the caller's.
   */
  async end(): Promise<void> {
    await Promise.all(this.pairs.splice(0).map((g) => g.destroy()));
  }

  /** The deadline of a push, or of a pull given `patienceMs` more (Note [waiting for a slower worker]). */
  private timeout(patienceMs = 0): { timeoutMs?: number } {
    if (patienceMs > 0) return { timeoutMs: Math.min(MAX_TIMER_MS, (this.options.timeoutMs ?? DEFAULT_ENGINE_OPTIONS.timeoutMs) + patienceMs) };
    return this.options.timeoutMs === undefined ? {} : { timeoutMs: this.options.timeoutMs };
  }

  /** `slower`: the wait could be for a slower worker, and the patience it was given (ms). */
  private fail(k: number, step: number, what: string, err: unknown, slower?: { patienceMs: number }): ParameterServerError {
    const rank = this.pg.globalRanks[this.worldSize + k]!;
    const timedOut = err instanceof Error && err.name === "CollectiveTimeoutError";
    const why = slower && timedOut
      ? `the server stopped answering, or is waiting for a slower worker (this pull waited its deadline` +
        (slower.patienceMs > 0 ? ` plus ${slower.patienceMs} ms, ${PATIENCE_FACTOR}x the longest step the server had seen per step it may wait for` : `, the server having seen no step yet`) +
        `; the server's and the other workers' logs say which, and a larger timeout lets uneven workers wait longer)`
      : `the server died or stopped answering (its log says why), and no worker can train without its shard`;
    return new ParameterServerError(
      `${serverName(rank, this.shards[k]!)} failed worker rank ${this.pg.globalRanks[this.rank]} ${what}: ${causeText(err)}; ${why}` +
        (step > 0 ? `; a checkpoint (--checkpoint, --checkpoint-every) lets the job resume` : ""),
      rank, { cause: err },
    );
  }

  private async send(k: number, step: number, what: string): Promise<void> {
    try {
      await this.pairs[k]!.send(this.push[k]!, 1, this.timeout());
    } catch (err) {
      throw this.fail(k, step, what, err);
    }
  }

  /**
   * Receives server k's reply to setup()'s pull, to the push of `step`, or to finish()'s "done", and
   * copies its parameters into the model. A pull that may wait for slower workers gets the patience
   * the server's previous reply gave it.
   */
  private async receive(k: number, step: number, what: string, pull: "setup" | "step" | "finish"): Promise<{ staleness: number; lead: number; stop: boolean; copyMs: number }> {
    const box = this.pull[k]!;
    const waits = pull === "step" ? this.stepWaits[k]! : pull === "finish" ? this.finishWaits[k]! : { may: false, patienceMs: 0 };
    try {
      await this.pairs[k]!.recv(box, 1, this.timeout(waits.patienceMs));
    } catch (err) {
      throw this.fail(k, step, what, err, waits.may ? waits : undefined);
    }
    if (box[H_KIND] !== KIND_PARAMETERS || (pull === "step" && box[H_STEP] !== step)) {
      throw this.fail(k, step, what, new Error(`the reply was of kind ${box[H_KIND]} for step ${box[H_STEP]}, expected parameters for step ${step}`));
    }
    const flags = box[H_FLAGS]!;
    this.stepWaits[k] = { may: (flags & FLAG_STEP_WAITS) !== 0, patienceMs: box[H_STEP_PATIENCE]! };
    this.finishWaits[k] = { may: (flags & FLAG_FINISH_WAITS) !== 0, patienceMs: box[H_FINISH_PATIENCE]! };
    const t0 = performance.now();
    const shard = this.shards[k]!;
    shard.params.forEach((i, j) => {
      const p = this.params[i]!;
      const values = shardSlice(box, shard, j, p.size);
      if (p.isContiguous()) p.data.set(values, p.offset);
      else throw new Error(`ParameterServerStrategy: parameter ${i} is not contiguous; parameters are expected to own their storage`);
    });
    return { staleness: Math.max(0, box[H_STALENESS]!), lead: box[H_LEAD]!, stop: (flags & FLAG_STOP) !== 0, copyMs: performance.now() - t0 };
  }
}
