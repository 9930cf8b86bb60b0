// The serving loop of a parameter server: one process that owns one shard of the parameters
// (ps-shards.ts) and their optimizer state, takes the workers' gradients for that shard, applies
// them with the recipe's optimizer, and sends the new parameters back (ps-protocol.ts says who
// sends what when). It runs instead of the training loop on job ranks W..W+S-1.
//
// The three modes differ only in when a gradient is applied and when its reply goes out:
//
//   sync   wait for the gradients of step t from every worker, sum them in worker-rank order and
//          divide by W, take one optimizer step, send the parameters to every worker. This is the
//          computation DDP does (all-reduce "avg" in rank order, then the same step on the same
//          numbers), so one server, or several, give DDP's parameters (test/distributed/strategies/ps.test.ts).
//   async  apply each worker's gradient the moment it arrives, as an optimizer step of its own,
//          and answer that worker at once; no worker ever waits for another. A gradient's
//          staleness is the number of updates applied to the shard between the parameters the
//          worker computed it on being sent and the gradient being applied (0 when no one else
//          got in between); every one is counted.
//   ssp    as async, but the reply to a worker that has completed c steps is held until
//          c - (the slowest unfinished worker's completed steps) <= s, so no worker starts a step
//          more than s steps ahead of the slowest (Note [the ssp bound]).
//
// Note [async learning rate]: each asynchronous gradient is applied at the schedule's full
// learning rate for the step it was computed at, as an update of its own: W updates per round of
// steps where sync takes one averaged one. Adam normalises the step size, so W single updates
// move the parameters about W times as far as one averaged update; scaling each by 1/W would
// undo that. Measured on MNIST (4 workers, 1 server, the recipe's 12 epochs, 2 shared cores, one
// run each): full rate 98.25% test accuracy, 1/4 rate 97.8%, sync 97.85%. The full rate is the
// default; `lrScale` keeps the other within reach.
//
// Note [the end of an async run]: no worker waits for another in async mode, and that includes
// the end. Each worker has a fixed share of the data (DistributedSampler), so a fast worker cannot
// take on a straggler's steps; instead the run is over when the first worker has taken all its
// steps. Every later gradient is still applied (it is already computed), and its reply carries
// FLAG_STOP: that worker skips its remaining steps (ps-worker.ts) and says "done". A straggler
// therefore costs an async job at most one of its steps at the end, where sync and ssp wait for
// all of its steps. Workers of equal speed skip few: 75 of 4 x 384 steps (5%) in the measurement
// of Note [async learning rate], on a machine shared with other jobs. The workers report the
// steps they skipped (`steps_skipped` in the result line). A skipped step is marked so in its
// StepOutcome, and fit() writes no metrics line and no checkpoint for it: the server writes its
// shard only at worker 0's gradients, so a periodic checkpoint of worker 0's past that point
// would have no shard file at its step.
//
// Note [what a ps checkpoint holds]: a shard file at step t (as worker 0's file) holds the
// shard's state right after worker 0's gradient of step t was applied: in sync, every worker's
// step t; in async and ssp, whatever the other workers' gradients added by then (their positions
// are not recorded: a resumed run goes on from step t on every worker). When every worker has
// said "done", the server writes its final shard checkpoint at worker 0's last step (taken or
// skipped, or the resumed step when it took none: the "done" of a run resumed at its end), which
// is the step of worker 0's final checkpoint, and sends the final parameters to every worker
// (their finish()), so all workers end with the same model.
//
// Failures: a worker that dies or stops answering makes its pair group's receive fail (lost peer
// or deadline); the server throws a ParameterServerError naming the worker, and the launcher
// stops the job.
import type { Module } from "../../nn/index.js";
import type { Optimizer } from "../../optim/index.js";
import { Tensor } from "../../tensor/index.js";
import { sharedFloat32Array } from "../base/shared-buffer.js";
import type { ProcessGroup, Traffic } from "../group/process-group.js";
import { checkpointStep, loadShardCheckpoint, shardCheckpointPath, snapshotShard, writeShardSnapshot } from "./ps-checkpoint.js";
import {
  causeText, checkHeaderCount, connectPairs, FLAG_FINISH_WAITS, FLAG_STEP_WAITS, FLAG_STOP, H_FINISH_PATIENCE, H_FLAGS, H_KIND, H_LEAD,
  H_STALENESS, H_STEP, H_STEP_PATIENCE, H_VERSION, HEADER_FLOATS, KIND_DONE, KIND_GRADIENT, KIND_PARAMETERS, packShard, ParameterServerError,
  patienceMs, PS_MODES, serverName, shardSlice, slowerWorkerSteps, type PsMode,
} from "./ps-protocol.js";
import { assignShards, type Shard } from "./ps-shards.js";

export interface ParameterServerOptions {
  /** The job's group: workers are ranks 0..workers-1, servers the ranks after them; this process is one of the servers. */
  pg: ProcessGroup;
  workers: number;
  servers: number;
  mode: PsMode;
  /** ssp: how many steps the fastest worker may be ahead of the slowest (an integer >= 0). */
  staleness?: number;
  /** The model, built as every worker builds it (same seed): the server owns its shard's parameters. */
  model: Module;
  /** The recipe's optimizer over model.parameters(); the server steps it with gradients on its shard's parameters only. */
  optimizer: Optimizer;
  /** The learning rate for the worker step about to be taken (0-based), as fit() uses it; default: the optimizer's. */
  schedule?: (step: number) => number;
  /**
   * Async and ssp: the factor on each gradient's learning rate (default 1, Note [async learning
   * rate]; 1 / workers is the scaled variant).
   */
  lrScale?: number;
  /** The training checkpoint worker 0 writes: the server writes `<path>.server-<k>` at the same steps. */
  checkpoint?: { path: string; everySteps?: number } | undefined;
  /** Resume: the worker's checkpoint; the server loads `<resumeFrom>.server-<k>`. */
  resumeFrom?: string | undefined;
  /** Steps each worker takes in all (a periodic checkpoint at the last step is left to the final one). */
  totalSteps?: number;
  /** Deadline of each receive from a worker, ms (default: the group's). */
  timeoutMs?: number;
  /** Called after each update, for instrumentation and tests. */
  onUpdate?: (update: ServerUpdate) => void;
}

/** One applied gradient. */
export interface ServerUpdate {
  /** The worker whose gradient it was; -1 in sync mode, where every update is the average of all. */
  worker: number;
  /** The worker's step the gradient is of. */
  step: number;
  /** Updates applied to the shard, this one included. */
  version: number;
  /** Sync: 0 (one averaged update per step, applied to the parameters every worker computed on). */
  staleness: number;
}

/** What a server reports at the end (its report-<rank>.json under weft train). */
export interface ParameterServerReport {
  [key: string]: number | string | boolean;
  server_rank: number;
  shard: number;
  shard_params: number;
  shard_tensors: number;
  mode: string;
  /** Optimizer steps applied to the shard in this run. */
  updates: number;
  /** Over the gradients applied in this run: mean and largest staleness (sync: 0). */
  staleness_mean: number;
  staleness_max: number;
  /** ssp: the largest lead a released reply had (<= staleness); sync/async: 0. */
  lead_max: number;
  /** ssp: replies held back because the worker was too far ahead. */
  held_replies: number;
  bytes_sent: number;
  bytes_received: number;
}

/**
 * Runs a parameter server until every worker is done; returns its report. The report's
 * `staleness_<n>` fields are the histogram: how many gradients were applied with staleness n.
 *
 * @example One worker and one server in this process train a linear model
 * ```ts
 * import { createInProcessGroups, Linear, manualSeed, mseLoss, ParameterServerStrategy, runParameterServer, SGD, tensor } from "weft";
 * const [workerPg, serverPg] = createInProcessGroups(2);            // rank 0 trains, rank 1 serves
 * const build = () => (manualSeed(0), new Linear(1, 1));             // the same start on both
 * const serverModel = build();
 * const served = runParameterServer({
 *   pg: serverPg!, workers: 1, servers: 1, mode: "async", model: serverModel,
 *   optimizer: new SGD(serverModel.parameters(), { lr: 0.1 }),
 * });
 * const model = build();
 * const ps = new ParameterServerStrategy(workerPg!, { workers: 1, servers: 1 });
 * await ps.setup(model, new SGD(model.parameters(), { lr: 0.1 }));  // the worker never steps it
 * const x = tensor([1, 2], [2, 1]), y = tensor([2, 4], [2, 1]);      // y = 2x
 * for (let step = 1; step <= 100; step++) await ps.step({ step, forward: () => mseLoss(model.forward(x), y) });
 * await ps.finish();
 * const report = await served;
 * assert.equal(report.updates, 100);
 * assert.ok(Math.abs(model.weight.item() - 2) < 0.2, `w = ${model.weight.item()}`);
 * await Promise.all([workerPg!, serverPg!].map((pg) => pg.destroy()));
 * ```
 */
export async function runParameterServer(o: ParameterServerOptions): Promise<ParameterServerReport> {
  return new ParameterServer(o).run();
}

/** A reply ssp holds back: the worker's gradient of `step` was applied, its parameters not sent yet. */
interface Pending {
  step: number;
  staleness: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

class ParameterServer {
  private readonly pg: ProcessGroup;
  private readonly workers: number;
  private readonly shard: Shard;
  private readonly params: Tensor[];
  private readonly rankName: string;
  private pairs: ProcessGroup[] = [];
  /** Per worker: the message buffer of its gradients, and that of its replies. */
  private inbox: Float32Array[] = [];
  private outbox: Float32Array[] = [];
  /** Sync: the averaged gradient. */
  private readonly sum: Float32Array;
  /** Optimizer steps applied to the shard so far, counting those before a resume (the version of its parameters). */
  private version = 0;
  /** The version each worker's parameters were sent at (for staleness). */
  private readonly sentVersion: number[];
  /** Per worker: steps whose gradient has arrived (after a resume: counting from the resumed step). */
  private readonly completed: number[];
  private readonly done: boolean[];
  private readonly held: (Pending | undefined)[];
  /** Async: a worker has taken all its steps (Note [the end of an async run]). */
  private ended = false;
  /**
   * Worker 0's latest step (the step of the final shard checkpoint): the resumed step, then its
   * gradients' and its "done"'s steps, never lowered (a run resumed at its last step says "done"
   * without a step).
   */
  private workerZeroStep = 0;
  /** Per worker: when its last message came, or its parameters were first sent (ms, performance.now()). */
  private readonly heardAt: number[];
  /** The longest step cycle seen (between two gradients of one worker), ms: Note [waiting for a slower worker]. */
  private slowestStepMs = 0;
  /** Slower-worker steps a worker's next pull and final pull may wait for (by mode). */
  private readonly waits: { step: number; finish: number };
  private readonly histogram: number[] = [];
  private stalenessSum = 0;
  private updates = 0;
  private leadMax = 0;
  private heldReplies = 0;
  private readonly mode: PsMode;
  private readonly staleness: number;
  /** The optimizer's rate, for runs without a schedule. */
  private readonly baseLr: number;

  constructor(private readonly o: ParameterServerOptions) {
    const { pg, workers, servers, mode } = o;
    if (!PS_MODES.includes(mode)) throw new RangeError(`runParameterServer: mode must be one of ${PS_MODES.join(", ")}, got "${mode}"`);
    if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`runParameterServer: workers must be an integer >= 1, got ${workers}`);
    if (!Number.isInteger(servers) || servers < 1) throw new RangeError(`runParameterServer: servers must be an integer >= 1, got ${servers}`);
    if (pg.rank < workers || pg.rank >= workers + servers) {
      throw new RangeError(`runParameterServer: rank ${pg.rank} is not a server; with ${workers} workers the servers are ranks ${workers}..${workers + servers - 1}`);
    }
    if (mode === "ssp" && !(Number.isInteger(o.staleness) && o.staleness! >= 0)) {
      throw new RangeError(`runParameterServer: ssp needs staleness, an integer >= 0 (how many steps the fastest worker may lead), got ${o.staleness}`);
    }
    this.pg = pg;
    this.workers = workers;
    this.mode = mode;
    this.staleness = o.staleness ?? 0;
    this.params = o.model.parameters();
    this.baseLr = o.optimizer.lr;
    this.shard = assignShards(this.params.map((p) => p.size), servers)[pg.rank - workers]!;
    this.rankName = serverName(pg.globalRanks[pg.rank]!, this.shard);
    if (this.shard.params.length === 0) {
      throw new RangeError(`${this.rankName} owns no tensors: the model has ${this.params.length}, fewer than the ${servers} servers; use at most ${this.params.length} servers`);
    }
    this.sum = new Float32Array(this.shard.size);
    this.sentVersion = new Array<number>(workers).fill(0);
    this.completed = new Array<number>(workers).fill(0);
    this.done = new Array<boolean>(workers).fill(false);
    this.held = new Array<Pending | undefined>(workers).fill(undefined);
    this.heardAt = new Array<number>(workers).fill(0);
    this.waits = slowerWorkerSteps(mode, this.staleness, workers);
  }

  async run(): Promise<ParameterServerReport> {
    const { o, shard } = this;
    let startStep = 0;
    if (o.resumeFrom !== undefined) {
      const path = shardCheckpointPath(o.resumeFrom, shard.index);
      const [loaded, workerStep] = await Promise.all([
        loadShardCheckpoint(path, o.model, o.optimizer, shard, o.servers), checkpointStep(o.resumeFrom),
      ]);
      if (loaded.step !== workerStep) {
        throw new Error(`${this.rankName}: ${path} is at step ${loaded.step}, the workers' ${o.resumeFrom} at step ${workerStep}; resume from a checkpoint whose shard files were written with it`);
      }
      startStep = loaded.step;
      this.version = loaded.updates;
    }
    this.workerZeroStep = startStep;
    this.completed.fill(startStep);
    const trafficAtStart = this.pg.traffic();
    this.pairs = await connectPairs(this.pg, this.workers, o.servers);
    const size = HEADER_FLOATS + shard.size;
    this.inbox = this.pairs.map(() => sharedFloat32Array(size));
    this.outbox = this.pairs.map(() => sharedFloat32Array(size));
    // The pull of every worker's setup(): the state the run starts from.
    this.heardAt.fill(performance.now());
    const first = this.pairs.map((_, w) => this.reply(w, startStep, -1, 0, 0));
    await Promise.all(first);
    if (this.mode === "sync") await this.serveSync();
    else await this.serveEach();
    await this.writeShard(this.workerZeroStep);
    await Promise.all(this.pairs.map((_, w) => this.reply(w, this.workerZeroStep, -1, 0, 0)));
    const t = this.pg.traffic();
    return this.report({ sent: t.sent - trafficAtStart.sent, received: t.received - trafficAtStart.received });
  }

  /** Receives worker w's next message into its inbox; a failure names the worker. */
  private async receive(w: number): Promise<{ kind: number; step: number }> {
    const box = this.inbox[w]!;
    try {
      await this.pairs[w]!.recv(box, 0, this.o.timeoutMs === undefined ? {} : { timeoutMs: this.o.timeoutMs });
    } catch (err) {
      throw new ParameterServerError(
        `${this.rankName} lost worker rank ${this.pg.globalRanks[w]} after its step ${this.completed[w]}: ${causeText(err)}; ` +
          `the worker died or stopped sending (its log says why); the job cannot go on without it`,
        this.pg.globalRanks[w]!, { cause: err },
      );
    }
    const kind = box[H_KIND]!;
    const step = box[H_STEP]!;
    const now = performance.now();
    if (kind === KIND_GRADIENT) this.slowestStepMs = Math.max(this.slowestStepMs, now - this.heardAt[w]!);
    this.heardAt[w] = now;
    if (kind !== KIND_GRADIENT && kind !== KIND_DONE) {
      throw new ParameterServerError(`${this.rankName}: worker rank ${this.pg.globalRanks[w]} sent a message of kind ${kind}, expected gradients or done; are both sides the same version of Weft?`, this.pg.globalRanks[w]!);
    }
    if (kind === KIND_GRADIENT && step !== this.completed[w]! + 1) {
      throw new ParameterServerError(`${this.rankName}: worker rank ${this.pg.globalRanks[w]} sent the gradient of step ${step} after step ${this.completed[w]}; workers push every step once, in order`, this.pg.globalRanks[w]!);
    }
    return { kind, step };
  }

  /** Sends the shard's current parameters to worker w. */
  private async reply(w: number, step: number, staleness: number, lead: number, flags: number): Promise<void> {
    const box = this.outbox[w]!;
    box[H_KIND] = KIND_PARAMETERS;
    box[H_STEP] = step;
    box[H_VERSION] = this.version;
    box[H_STALENESS] = staleness;
    box[H_LEAD] = lead;
    box[H_FLAGS] = flags | (this.waits.step > 0 ? FLAG_STEP_WAITS : 0) | (this.waits.finish > 0 ? FLAG_FINISH_WAITS : 0);
    box[H_STEP_PATIENCE] = patienceMs(this.waits.step, this.slowestStepMs);
    box[H_FINISH_PATIENCE] = patienceMs(this.waits.finish, this.slowestStepMs);
    packShard(box, this.shard, this.shard.params.map((i) => this.params[i]!.dense()));
    this.sentVersion[w] = this.version;
    try {
      await this.pairs[w]!.send(box, 0);
    } catch (err) {
      throw new ParameterServerError(
        `${this.rankName} could not send parameters to worker rank ${this.pg.globalRanks[w]}: ${causeText(err)}; the worker died (its log says why)`,
        this.pg.globalRanks[w]!, { cause: err },
      );
    }
  }

  /** One optimizer step on the shard with `grad` (the shard's flat gradient, at `offset` in it) at the schedule's rate for `step`. */
  private apply(grad: Float32Array, offset: number, step: number, lrScale: number): void {
    const { o, shard } = this;
    shard.params.forEach((i, j) => {
      const p = this.params[i]!;
      const at = offset + shard.offsets[j]!;
      p.grad = new Tensor(grad.subarray(at, at + p.size), p.shape);
    });
    o.optimizer.lr = (o.schedule ? o.schedule(step - 1) : this.baseLr) * lrScale;
    o.optimizer.step();
    // Parameters of other shards have no gradient, so the optimizer left them alone; clear ours so
    // nothing holds the message buffer.
    for (const i of shard.params) this.params[i]!.grad = null;
    this.version++;
    checkHeaderCount("the server's update count", this.version);
  }

  private count(w: number, step: number, staleness: number): void {
    this.updates++;
    this.stalenessSum += staleness;
    this.histogram[staleness] = (this.histogram[staleness] ?? 0) + 1;
    this.o.onUpdate?.({ worker: w, step, version: this.version, staleness });
  }

  /** Sync: one averaged update per step, from every worker's gradient of that step. */
  private async serveSync(): Promise<void> {
    const n = this.workers;
    for (;;) {
      const msgs = await Promise.all(this.pairs.map((_, w) => this.receive(w)));
      const doneCount = msgs.filter((m) => m.kind === KIND_DONE).length;
      if (doneCount === n) {
        this.workerZeroStep = Math.max(this.workerZeroStep, msgs[0]!.step);
        return;
      }
      if (doneCount > 0) {
        const d = msgs.findIndex((m) => m.kind === KIND_DONE);
        const g = msgs.findIndex((m) => m.kind === KIND_GRADIENT);
        throw new ParameterServerError(
          `${this.rankName}, sync: worker rank ${this.pg.globalRanks[d]} is done after step ${msgs[d]!.step} while worker rank ${this.pg.globalRanks[g]} sent step ${msgs[g]!.step}; ` +
            `in sync mode every worker takes the same steps (give them equal shares of the data)`, this.pg.globalRanks[d]!,
        );
      }
      // Every step is checked against the worker's own count in receive(), and all start equal.
      const step = msgs[0]!.step;
      // Summed in worker-rank order, then one true division, as DDP's "avg" all-reduce: with the
      // same numbers in, the same numbers out (Note [fixed reduction order] in docs/distributed.md).
      const sum = this.sum;
      sum.set(this.inbox[0]!.subarray(HEADER_FLOATS));
      for (let w = 1; w < n; w++) {
        const g = this.inbox[w]!;
        for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + g[HEADER_FLOATS + i]!;
      }
      if (n > 1) for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! / n;
      this.apply(sum, 0, step, 1);
      for (let w = 0; w < n; w++) this.completed[w] = step;
      this.workerZeroStep = step;
      this.count(-1, step, 0);
      await this.checkpointAt(step);
      await Promise.all(this.pairs.map((_, w) => this.reply(w, step, 0, 0, 0)));
    }
  }

  /** Async and ssp: each worker on its own, each gradient an update of its own. */
  private async serveEach(): Promise<void> {
    const scale = this.o.lrScale ?? 1;
    await Promise.all(this.pairs.map(async (_, w) => {
      for (;;) {
        const m = await this.receive(w);
        if (m.kind === KIND_DONE) {
          this.done[w] = true;
          if (w === 0) this.workerZeroStep = Math.max(this.workerZeroStep, m.step);
          if (this.mode === "async") this.ended = true;
          this.releaseHeld();
          return;
        }
        const staleness = this.version - this.sentVersion[w]!;
        this.apply(this.inbox[w]!, HEADER_FLOATS, m.step, scale);
        this.completed[w] = m.step;
        this.count(w, m.step, staleness);
        if (w === 0) {
          this.workerZeroStep = m.step;
          await this.checkpointAt(m.step);
        }
        if (this.mode === "ssp") {
          // Held until the bound lets this worker go on: a later gradient (or "done") of a slower
          // worker releases it (releaseHeld), and the reply's send runs before our next receive.
          const released = new Promise<void>((resolve, reject) => (this.held[w] = { step: m.step, staleness, resolve, reject }));
          if (!this.releaseHeld().includes(w)) this.heldReplies++;
          await released;
        } else {
          await this.reply(w, m.step, staleness, 0, this.ended ? FLAG_STOP : 0);
        }
      }
    }));
  }

  /**
   * Note [the ssp bound]: a worker that has completed c steps gets its reply, and with it the
   * parameters for step c + 1, only when c - m <= s, m being the fewest steps completed by a
   * worker still training (a finished worker holds no one back). So when it starts step c + 1
   * the slowest is at step m + 1 or later: it leads by at most s steps, and it waits exactly when
   * going on would make the lead s + 1. The reply carries the freshest parameters at its release,
   * and the lead it was released at. Returns the workers released.
   */
  private releaseHeld(): number[] {
    let slowest = Infinity;
    for (let w = 0; w < this.workers; w++) if (!this.done[w]) slowest = Math.min(slowest, this.completed[w]!);
    const released: number[] = [];
    for (let w = 0; w < this.workers; w++) {
      const h = this.held[w];
      if (!h) continue;
      const lead = slowest === Infinity ? 0 : h.step - slowest;
      if (lead > this.staleness) continue;
      this.held[w] = undefined;
      this.leadMax = Math.max(this.leadMax, lead);
      released.push(w);
      this.reply(w, h.step, h.staleness, lead, 0).then(h.resolve, h.reject);
    }
    return released;
  }

  private async checkpointAt(step: number): Promise<void> {
    const every = this.o.checkpoint?.everySteps;
    if (!every || step % every !== 0 || (this.o.totalSteps !== undefined && step >= this.o.totalSteps)) return;
    await this.writeShard(step);
  }

  private async writeShard(step: number): Promise<void> {
    const plan = this.o.checkpoint;
    if (!plan) return;
    const snapshot = snapshotShard(this.o.model, this.o.optimizer, this.shard, this.o.servers, step, this.version);
    await writeShardSnapshot(shardCheckpointPath(plan.path, this.shard.index), snapshot);
  }

  private report(traffic: Traffic): ParameterServerReport {
    const r: ParameterServerReport = {
      server_rank: this.pg.globalRanks[this.pg.rank]!, shard: this.shard.index,
      shard_params: this.shard.size, shard_tensors: this.shard.params.length, mode: this.mode,
      updates: this.updates,
      staleness_mean: this.updates === 0 ? 0 : Math.round((this.stalenessSum / this.updates) * 1000) / 1000,
      staleness_max: this.histogram.length === 0 ? 0 : this.histogram.length - 1,
      lead_max: this.leadMax, held_replies: this.heldReplies,
      bytes_sent: traffic.sent, bytes_received: traffic.received,
    };
    this.histogram.forEach((n, s) => {
      if (n) r[`staleness_${s}`] = n;
    });
    return r;
  }
}
