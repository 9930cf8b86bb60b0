// Gossip training (decentralized parallel SGD: D-PSGD, Lian et al. 2017; its asynchronous form
// AD-PSGD, Lian et al. 2018): no server and no global barrier while training. After each local
// step a worker averages its parameters with what its neighbours last pushed to it, then pushes
// its own to this step's neighbours (gossip-topology.ts says who they are).
//
// Channels. For every directed edge i→j the topology can use there is one subgroup of the two
// ranks, made at set-up by every process in one fixed order (gossipEdges). A subgroup has its own
// engine and comm thread, and operations on one group run one at a time, so with one group per
// direction a receive waiting on one channel never holds up a send on another.
//
// One step, on rank r (the asynchronous schedule, the default):
//  0. yield to the event loop (Note [receives stay posted]); if a peer said done, the run is over
//     and the step is skipped: step() returns `skipped: true` and trains nothing (Note [the end of
//     a gossip run]);
//  1. zero the gradients, forward, check the loss (this rank's own: nothing is shared), backward:
//     the gradient at this replica's x_t;
//  2. yield to the event loop once, so that the receives that completed on the comm threads while
//     this thread computed are seen (their completions are messages, handled only between tasks);
//  3. mix: x ← (x + Σ arrivals) / (1 + k), over the k in-channels with a message not mixed yet
//     (Note [uniform weights over what arrived]);
//  4. the local optimizer's step, on the mixed x with x_t's gradient (Note [mix, then step]);
//  5. push x_{t+1} to this step's targets, skipping a channel whose previous send is still in
//     flight rather than waiting for it (Note [never wait for a peer]).
// The step's commMs is the time of steps 2-3 and 5 (the mix and the push), not of the optimizer's
// step between them; its waitMs is 0 (nothing waits for a peer). In the synchronous schedule both
// are the exchange's time, waiting for this step's messages included.
// Each in-channel keeps a receive posted at all times (Note [receives stay posted]), so a
// message lands while the receiver computes; the latest arrival is kept, with the number of steps
// its parameters had taken (the message's last float).
//
// Note [mix, then step]
// D-PSGD's iteration is x_{t+1} = W x_t - lr·g(x_t): the neighbours' parameters are averaged in
// and the update applied after. The other order (step, then average with what the neighbours
// sent a step ago) looks the same but is not: the neighbours' messages do not hold their latest
// update yet, so each mix throws away k/(1+k) of this rank's own update, and the replicas' mean
// advances at 1/(1+k) of the learning rate (measured on MNIST, 4 workers on a ring: the loss of
// the first 48 steps 2.02 against DDP's 1.61, and 96.5% test accuracy against 97.85%). Mixing
// before the step, a message from a neighbour at the same pace holds exactly its x_t, so the
// mean advances by the full update, as DDP's does.
//
// The run is over when the first worker has taken all its steps (Note [the end of a gossip run]).
//
// finish(): push "done" on every out-channel, drain every in-channel until it says done (so no
// rank closes links a peer still sends on: to the peer, closed links are a lost rank), wait for
// every worker (Note [the finish barrier]), measure the consensus distance over the parameters
// (consensus.ts; buffers such as batch norm's running statistics are averaged with them but not
// measured: they are not trained, and D-PSGD's analysis is about the parameters), and replace
// every replica by the mean: what D-PSGD's analysis bounds and its papers evaluate is the
// averaged model, and one all-reduce at the end makes the evaluated and checkpointed model the
// job's, the same on every rank (pass `average: false` to keep rank 0's own replica).
//
// Note [uniform weights over what arrived]
// Each mix weighs this replica and every fresh arrival equally. In the synchronous schedule every
// rank receives from as many peers as it sends to, so these weights form a doubly stochastic
// matrix (Note [doubly stochastic rounds] in gossip-topology.ts): exactly D-PSGD's. Asynchronously
// they are row-stochastic only: replicas still contract towards each other, but their mean
// drifts towards the ranks that push more often, i.e. away from a straggler's stale replica.
// Push-sum weights (SGP, Assran et al. 2019) would correct that drift by sending a weight with
// every message and conserving the total mass, but only if no message is ever dropped, and here
// a newer arrival replaces an older one not yet mixed, and a busy channel skips a send: both
// would leak mass. Uniform weights lose nothing by a drop, and the final average removes the
// remaining disagreement anyway.
//
// Note [never wait for a peer]
// A synchronous pairwise exchange (send to j, wait for j's reply) makes every rank as slow as its
// slowest neighbour, and through the neighbours' neighbours the whole job as slow as its slowest
// rank: what DDP does, paid without DDP's exact average. So a step never waits: a message that
// has not arrived is mixed in later (or replaced by a newer one), and a send still in flight
// (the receiver has not taken the previous message off the socket yet: it is slow, or busy
// evaluating) means this step's push on that channel is skipped, counted in sends_skipped.
//
// Note [receives stay posted]
// The receiver keeps two receives posted on each in-channel, and re-posts one as soon as one
// completes: three buffers, the latest arrival readable in one while the next messages land in
// the other two. Over TCP the comm thread runs the second receive right after the first, so two
// messages can land while the main thread computes. Through shared memory the group's executor
// submits a subgroup's operations one after another from the main thread, so only one receive
// is at the comm thread at a time, and the message after it waits in the socket until the main
// thread has seen the first complete. So a step yields to the event loop before its compute as
// well as before its mix: the receives that completed since the last mix are re-posted then, and
// the next messages land during the compute instead of being a step older when they are mixed
// (on MNIST, 4 workers on a ring, 12 epochs: 96.7-97.45% test accuracy over four runs before
// that yield, 97.7-98.0% over five after, on a machine whose load varied).
//
// Note [the end of a gossip run]
// No worker waits for another, and that includes the end: otherwise a straggler would hold the
// job until it had taken every one of its steps, and its neighbours would idle in finish() for
// it, which is DDP's wall time again. Each worker has a fixed share of the data, so a fast worker
// cannot take over a straggler's steps; instead, as for the asynchronous parameter server (Note
// [the end of an async run] in ps-server.ts), the run is over when the first worker has taken
// all its steps. Its "done" reaches its out-neighbours, which skip the steps they have left
// (`steps_skipped` in the report; step() returns `skipped: true`, so the loop counts no samples,
// time or metrics line for them) and say done in turn, so the end spreads
// over the graph in a few hops, a step each. A straggler costs the job at most a few of its
// steps at the end; workers of equal speed skip the few steps they drifted apart by, at the end
// of the schedule where the learning rate is smallest. The synchronous schedule runs every step.
//
// Note [the finish barrier]
// A rank leaves finish()'s drain once its own in-neighbours are done, while a straggler elsewhere
// may still have many steps to go. The consensus all-reduces would wait for it under the
// group's collective deadline (30 s by default) and could trip it, so a barrier with the channel
// deadline comes first. Deadlines here guard against a peer that is alive but stopped: a peer
// that died closes its links, which fails whatever waits on it at once with a PeerLostError.
//
// Note [deadlines only where a rank waits]
// A deadline says "a rank waited this long for a peer": it belongs on a wait, not on an operation
// that merely stays pending while this rank trains. The asynchronous schedule's posted receives
// are pending all run long, and a channel can be quiet for as long as its sender does something
// else: a long evaluation or checkpoint on rank 0, or, with the random topology, an edge that no
// step happens to use for a long stretch. Its pushes can stay in flight as long (a receiver busy
// evaluating takes no message off the socket). Nothing waits on either, so with the channel
// deadline on them a quiet channel alone would fail the job. So they get none (QUIET_MS, the
// longest a timer takes: 24.8 days), and a lost peer is found by its closed links, which fail
// them at once with a PeerLostError. The deadlines stay where this rank does wait for a peer:
// finish()'s drain (its wait for the last pushes to leave and for every in-neighbour's done, one
// deadline for all of it), the done messages and the barrier (Note [the finish barrier]), and
// the synchronous schedule's exchanges, each the channel deadline.
import type { Module } from "../../nn/index.js";
import type { Optimizer } from "../../optim/index.js";
import type { ProcessGroup, Work } from "../group/process-group.js";
import { CollectiveTimeoutError, ranksText } from "../base/errors.js";
import { sharedFloat32Array } from "../base/shared-buffer.js";
import { consensusDistance, type ConsensusDistance } from "./consensus.js";
import { FlatState } from "./flat-state.js";
import { gossipEdges, gossipSources, gossipTargets, GOSSIP_TOPOLOGIES, type GossipTopology } from "./gossip-topology.js";
import { checkFiniteLoss } from "./non-finite-loss.js";
import type { StepInput, StepOutcome, Strategy, Traffic } from "./strategy.js";

/**
 * Deadline of every wait for a peer on a gossip channel: finish()'s drain, its done messages and
 * barrier, and the synchronous schedule's exchanges: 10 minutes. In finish() a rank may wait for
 * the time the slowest worker still needs, and the collectives' 30 s would be tripped by a
 * straggler at the end of a long run. A dead peer is detected by its closed links (PeerLostError
 * at once), not by this deadline, which only catches a peer that is alive but stopped. The
 * asynchronous schedule's posted receives and pushes, which nothing waits on, have none (Note
 * [deadlines only where a rank waits]).
 */
export const GOSSIP_CHANNEL_TIMEOUT_MS = 600_000;

/** The longest delay a timer takes (setTimeout fires at once past it): in effect no deadline (Note [deadlines only where a rank waits]). */
const QUIET_MS = 2 ** 31 - 1;

/** The step count a message carries when its sender is done (real counts are >= 0). */
const DONE = -1;

/** Receives each in-channel keeps posted (Note [receives stay posted]); a sender ends with as many DONEs. */
const RECEIVES_POSTED = 2;

export interface GossipOptions {
  /** Who pushes to whom (default "ring"; gossip-topology.ts). */
  topology?: GossipTopology;
  /** Seed of the random topology's peer sequence (default 0). */
  seed?: number;
  /** Deadline of every wait for a peer (finish()'s drain and barrier, the synchronous exchanges), ms (default GOSSIP_CHANNEL_TIMEOUT_MS). */
  channelTimeoutMs?: number;
  /** Replace every replica by the mean at the end (default true; Note at the top of gossip.ts). */
  average?: boolean;
  /**
   * "async" (default): never wait for a peer. "synchronous": for tests and parity checks, every
   * rank sends after each step and waits for exactly this step's messages from this step's
   * sources, so the run is D-PSGD in lockstep, a deterministic function of the seeds and batches.
   */
  schedule?: "async" | "synchronous";
}

interface OutChannel {
  peer: number;
  group: ProcessGroup;
  /** The message being sent: x, then the step (shared: the comm thread reads it in place). */
  buffer: Float32Array;
  work: Work | null;
}

interface InChannel {
  peer: number;
  group: ProcessGroup;
  /** RECEIVES_POSTED + 1 buffers: the posted receives' and the latest arrival's. */
  buffers: Float32Array[];
  /** The buffer holding the latest arrival, or -1 before the first. */
  latest: number;
  /** The buffer no receive writes into and no arrival occupies (before the first arrival). */
  spare: number;
  /** DONE messages received (the peer sends one per posted receive). */
  dones: number;
  latestStep: number;
  /** The latest arrival has not been mixed in yet. */
  fresh: boolean;
  /** Settles when the peer said done (or the channel failed). */
  finished: Promise<void>;
  settle: { resolve(): void; reject(err: Error): void };
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * x ← (x + Σ arrivals) / (1 + k) over the first n floats, summed in float64 in the arrivals'
 * order; returns the L2 distance from x (before the mix) to each arrival, computed in the same pass.
 */
function mixUniform(x: Float32Array, arrivals: readonly Float32Array[], n: number): number[] {
  const w = 1 + arrivals.length;
  if (arrivals.length === 1) {
    const a = arrivals[0]!;
    let da = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[i]!, ai = a[i]!;
      da += (xi - ai) * (xi - ai);
      x[i] = (xi + ai) / w;
    }
    return [Math.sqrt(da)];
  }
  if (arrivals.length === 2) {
    const [a, b] = arrivals as [Float32Array, Float32Array];
    let da = 0, db = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[i]!, ai = a[i]!, bi = b[i]!;
      da += (xi - ai) * (xi - ai);
      db += (xi - bi) * (xi - bi);
      x[i] = (xi + ai + bi) / w;
    }
    return [Math.sqrt(da), Math.sqrt(db)];
  }
  const d = arrivals.map(() => 0);
  for (let i = 0; i < n; i++) {
    const xi = x[i]!;
    let s = xi;
    for (let j = 0; j < arrivals.length; j++) {
      const aj = arrivals[j]![i]!;
      d[j]! += (xi - aj) * (xi - aj);
      s += aj;
    }
    x[i] = s / w;
  }
  return d.map(Math.sqrt);
}

/**
 * Decentralized training over `pg`: after each local step a worker averages its parameters with
 * what its neighbours pushed and pushes its own, never waiting for a peer; finish() measures how
 * far apart the replicas ended (the consensus distance) and averages them.
 *
 * @example Four replicas on a ring, in lockstep, end as one model
 * ```ts
 * import { createInProcessGroups, GossipStrategy, Linear, manualSeed, mseLoss, SGD, tensor } from "weft";
 * const strategies = createInProcessGroups(4).map((pg) => new GossipStrategy(pg, { topology: "ring", schedule: "synchronous" }));
 * const models = strategies.map(() => (manualSeed(0), new Linear(2, 1)));
 * await Promise.all(strategies.map((s, r) => s.setup(models[r]!, new SGD(models[r]!.parameters(), { lr: 0.1 }))));
 * const x = (r: number) => tensor([r, 1], [1, 2]);                  // each rank's own batch
 * for (let step = 1; step <= 3; step++) {
 *   await Promise.all(strategies.map((s, r) => s.step({ step, forward: () => mseLoss(models[r]!.forward(x(r)), tensor([1], [1, 1])) })));
 * }
 * await Promise.all(strategies.map((s) => s.finish()));
 * const reports = strategies.map((s) => s.report());
 * assert.ok((reports[0]!.consensus_distance as number) > 0);        // the replicas had drifted apart...
 * assert.ok(reports.every((r) => r.digest === reports[0]!.digest)); // ...and were averaged into one
 * await Promise.all(strategies.map((s) => s.end()));
 * ```
 */
export class GossipStrategy implements Strategy {
  readonly name = "gossip";
  readonly rank: number;
  readonly worldSize: number;
  readonly topology: GossipTopology;
  private readonly seed: number;
  private readonly channelTimeoutMs: number;
  private readonly average: boolean;
  private readonly schedule: "async" | "synchronous";
  private state: FlatState | undefined;
  private optimizer: Optimizer | undefined;
  /** This replica, read from the model for each mix. */
  private x: Float32Array = new Float32Array(0);
  private readonly out = new Map<number, OutChannel>();
  private readonly in = new Map<number, InChannel>();
  private failure: Error | undefined;
  private consensus: ConsensusDistance | undefined;
  private finished = false;
  /** A peer said done: the run is over, and the steps left are skipped (Note [the end of a gossip run]). */
  private over = false;
  private lastLoss = NaN;
  private readonly counts = { sends: 0, sendsSkipped: 0, arrivalsMixed: 0, arrivalsOverwritten: 0, stepsSkipped: 0 };

  constructor(private readonly pg: ProcessGroup, options: GossipOptions = {}) {
    this.rank = pg.rank;
    this.worldSize = pg.worldSize;
    this.topology = options.topology ?? "ring";
    if (!GOSSIP_TOPOLOGIES.includes(this.topology)) {
      throw new RangeError(`GossipStrategy: topology must be one of ${GOSSIP_TOPOLOGIES.join(", ")}, got "${this.topology}"`);
    }
    this.seed = options.seed ?? 0;
    this.channelTimeoutMs = options.channelTimeoutMs ?? GOSSIP_CHANNEL_TIMEOUT_MS;
    if (!(this.channelTimeoutMs > 0 && this.channelTimeoutMs < 2 ** 31)) {
      throw new RangeError(`GossipStrategy: channelTimeoutMs must be above 0 and below 2^31 ms (a timer's limit), got ${this.channelTimeoutMs}`);
    }
    this.average = options.average ?? true;
    this.schedule = options.schedule ?? "async";
  }

  /** Makes replicas start equal (rank 0's, as DDP does), sets up the channels and posts the receives. */
  async setup(model: Module, optimizer: Optimizer): Promise<void> {
    if (this.state) throw new Error("GossipStrategy.setup() called twice: make a new GossipStrategy for another model or run");
    const state = new FlatState(model);
    this.state = state;
    this.optimizer = optimizer;
    const n = state.size;
    // D-PSGD's analysis and its experiments start every replica at the same point; from unrelated
    // initialisations the first steps would go to averaging them.
    const start = sharedFloat32Array(n);
    state.read(start);
    await this.pg.broadcast(start, 0);
    state.write(start);
    this.x = new Float32Array(n);
    const edges = gossipEdges(this.topology, this.worldSize);
    // Made all at once: each caller counts its newGroup calls before awaiting anything, so members
    // agree on every channel's name however the set-ups interleave.
    const groups = await Promise.all(edges.map((e) => this.pg.newGroup(e, { timeoutMs: this.channelTimeoutMs })));
    edges.forEach(([from, to], i) => {
      const group = groups[i];
      if (!group) return;
      if (from === this.rank) {
        this.out.set(to, { peer: to, group, buffer: sharedFloat32Array(n + 1), work: null });
        return;
      }
      let settle!: InChannel["settle"];
      const finished = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
      finished.catch(() => {}); // reported through step() or finish(), never as unhandled
      this.in.set(from, {
        peer: from, group, buffers: Array.from({ length: RECEIVES_POSTED + 1 }, () => sharedFloat32Array(n + 1)),
        latest: -1, spare: RECEIVES_POSTED, dones: 0, latestStep: 0, fresh: false, finished, settle,
      });
    });
    if (this.schedule === "async") for (const ch of this.in.values()) for (let b = 0; b < RECEIVES_POSTED; b++) this.post(ch, b);
  }

  private ready(what: string): { state: FlatState; optimizer: Optimizer } {
    if (!this.state || !this.optimizer) throw new Error(`GossipStrategy.${what}() before setup(): call await strategy.setup(model, optimizer) first`);
    if (this.failure) throw this.failure;
    return { state: this.state, optimizer: this.optimizer };
  }

  /**
   * Posts the receive of the next message on `ch` into buffer `slot` (Note [receives stay
   * posted]), with no deadline (Note [deadlines only where a rank waits]).
   */
  private post(ch: InChannel, slot: number): void {
    ch.group.recvAsync(ch.buffers[slot]!, 0, { timeoutMs: QUIET_MS }).wait().then(
      () => this.arrived(ch, slot),
      (err: Error) => {
        this.failure ??= err;
        ch.settle.reject(err);
      },
    );
  }

  private arrived(ch: InChannel, slot: number): void {
    const step = ch.buffers[slot]![this.x.length]!;
    if (step === DONE) {
      this.over = true;
      if (++ch.dones === RECEIVES_POSTED) ch.settle.resolve();
      return;
    }
    if (ch.fresh) this.counts.arrivalsOverwritten++;
    // Receives complete in the order they were posted; the buffer the previous arrival was in
    // (or, the first time, the spare) takes the next receive.
    const free = ch.latest >= 0 ? ch.latest : ch.spare;
    ch.latest = slot;
    ch.latestStep = step;
    ch.fresh = true;
    this.post(ch, free);
  }

  async step({ step, forward }: StepInput): Promise<StepOutcome> {
    const { state, optimizer } = this.ready("step");
    // Note [receives stay posted]: arrivals that completed since the last mix re-post their
    // receives now, so the next messages land during this step's compute.
    if (this.schedule === "async") {
      await yieldToEventLoop();
      if (this.failure) throw this.failure;
      if (this.over) {
        this.counts.stepsSkipped++;
        return { loss: this.lastLoss, commMs: 0, waitMs: 0, skipped: true };
      }
    }
    optimizer.zeroGrad();
    const loss = forward();
    const value = loss.item();
    this.lastLoss = value;
    checkFiniteLoss(value, step, `rank ${this.rank}'s own loss; gossip shares no loss`);
    loss.backward();
    // commMs is the mix's time and the push's, not the optimizer step's between them.
    const t0 = performance.now();
    // Note [mix, then step]: the gradient is x_t's; the update lands on the mixed replica.
    const { metrics, waitMs } = this.schedule === "synchronous" ? await this.lockstepMix(state, step) : await this.mixArrivals(state, step);
    let commMs = performance.now() - t0;
    optimizer.step();
    if (this.schedule === "async") {
      const t1 = performance.now();
      const skippedBefore = this.counts.sendsSkipped;
      this.push(state, step);
      metrics.sends_skipped = this.counts.sendsSkipped - skippedBefore;
      commMs += performance.now() - t1;
    }
    return { loss: value, commMs, waitMs, metrics };
  }

  /** Mixes in the arrivals not mixed yet (the asynchronous schedule): never waits for a peer. */
  private async mixArrivals(state: FlatState, step: number): Promise<{ metrics: Record<string, number>; waitMs: number }> {
    await yieldToEventLoop();
    if (this.failure) throw this.failure;
    state.read(this.x);
    const n = this.x.length;
    const arrivals: Float32Array[] = [];
    let lag = 0;
    for (const ch of this.in.values()) {
      if (!ch.fresh) continue;
      ch.fresh = false;
      arrivals.push(ch.buffers[ch.latest]!);
      // The arrival holds the sender's parameters after `latestStep` steps; this replica has
      // taken step - 1. Zero: the sender is at this rank's pace, as in lockstep D-PSGD.
      lag += step - 1 - ch.latestStep;
    }
    const k = arrivals.length;
    const metrics: Record<string, number> = { mixed: k };
    if (k === 0) return { metrics, waitMs: 0 };
    const apart = mixUniform(this.x, arrivals, n);
    state.write(this.x);
    this.counts.arrivalsMixed += k;
    // A cheap local view of the disagreement: how far this replica was from what it mixed in,
    // and how many steps those senders were behind it.
    metrics.peer_distance = apart.reduce((a, b) => a + b, 0) / k;
    metrics.peer_lag = lag / k;
    return { metrics, waitMs: 0 };
  }

  /** Pushes the model (after `step` steps) to this step's targets, skipping a channel still sending (Note [never wait for a peer]). */
  private push(state: FlatState, step: number): void {
    for (const t of gossipTargets(this.topology, this.rank, this.worldSize, step, this.seed)) {
      const ch = this.outChannel(t, step);
      if (ch.work && !ch.work.isCompleted()) {
        this.counts.sendsSkipped++;
        continue;
      }
      // Nothing waits for a push until finish(), whose drain has the deadline (Note [deadlines only where a rank waits]).
      this.send(ch, state, step, QUIET_MS);
    }
  }

  /** The channel to `peer`, which this step's targets include: set-up made one for every edge the topology can use. */
  private outChannel(peer: number, step: number): OutChannel {
    const ch = this.out.get(peer);
    if (!ch) throw new Error(`GossipStrategy: rank ${this.rank} has no channel to rank ${peer}, one of step ${step}'s ${this.topology} targets; gossipEdges() must list every edge gossipTargets() can return`);
    return ch;
  }

  /** The channel from `peer`, which this step's sources include: set-up made one for every edge the topology can use. */
  private inChannel(peer: number, step: number): InChannel {
    const ch = this.in.get(peer);
    if (!ch) throw new Error(`GossipStrategy: rank ${this.rank} has no channel from rank ${peer}, one of step ${step}'s ${this.topology} sources; gossipEdges() must list every edge gossipSources() can return`);
    return ch;
  }

  /**
   * Sends the model to `ch`'s peer, tagged with the steps its parameters have taken (or DONE);
   * `timeoutMs` defaults to the channel deadline.
   */
  private send(ch: OutChannel, state: FlatState | null, tag: number, timeoutMs?: number): Work {
    if (state) state.read(ch.buffer);
    ch.buffer[this.x.length] = tag;
    const work = ch.group.sendAsync(ch.buffer, 1, timeoutMs === undefined ? {} : { timeoutMs });
    work.wait().catch((err: Error) => (this.failure ??= err));
    ch.work = work;
    if (tag !== DONE) this.counts.sends++;
    return work;
  }

  /**
   * The synchronous schedule: push x_t (the parameters after step - 1 steps) to this step's
   * targets, wait for exactly this step's messages from its sources, mix them in.
   */
  private async lockstepMix(state: FlatState, step: number): Promise<{ metrics: Record<string, number>; waitMs: number }> {
    const w0 = performance.now();
    for (const t of gossipTargets(this.topology, this.rank, this.worldSize, step, this.seed)) {
      const ch = this.outChannel(t, step);
      if (ch.work) await ch.work.wait();
      this.send(ch, state, step - 1);
    }
    const n = this.x.length;
    const arrivals: Float32Array[] = [];
    for (const source of gossipSources(this.topology, this.rank, this.worldSize, step, this.seed)) {
      const ch = this.inChannel(source, step);
      const y = ch.buffers[0];
      await ch.group.recv(y, 0);
      if (y[n] !== step - 1) {
        throw new Error(`gossip (synchronous schedule): rank ${this.rank} at step ${step} got rank ${source}'s parameters after ${y[n]} steps, not ${step - 1}; every rank must run the same steps`);
      }
      arrivals.push(y);
    }
    const waitMs = performance.now() - w0;
    state.read(this.x);
    mixUniform(this.x, arrivals, n);
    state.write(this.x);
    this.counts.arrivalsMixed += arrivals.length;
    return { metrics: { mixed: arrivals.length }, waitMs };
  }

  /**
   * Says done on every out-channel, drains the in-channels until each said done, waits for every
   * worker, measures the consensus distance and (by default) replaces each replica by the mean.
   */
  async finish(): Promise<void> {
    const { state } = this.ready("finish");
    if (this.finished) throw new Error("GossipStrategy.finish() called twice");
    this.finished = true;
    const n = this.x.length;
    if (this.schedule === "async") await this.drain();
    else for (const ch of this.out.values()) if (ch.work) await ch.work.wait();
    if (this.failure) throw this.failure;
    await this.pg.barrier({ timeoutMs: this.channelTimeoutMs }); // Note [the finish barrier]
    state.read(this.x);
    const mean = new Float32Array(n);
    // Measured over the parameters, averaged over everything (the note at the top of the file).
    this.consensus = await consensusDistance(this.pg, this.x, mean, { measured: state.parameterSize });
    if (this.average) state.write(mean);
  }

  /**
   * finish()'s drain (the asynchronous schedule): waits for the last pushes to leave, says done on
   * every out-channel and waits for every in-neighbour's done, all of it within the channel
   * deadline (Note [deadlines only where a rank waits]).
   */
  private async drain(): Promise<void> {
    const waiting = new Set(this.in.keys());
    const sent = new Set<number>();
    const all = Promise.all([
      ...[...this.out.values()].map(async (ch) => {
        if (ch.work) await ch.work.wait();
        for (let b = 0; b < RECEIVES_POSTED; b++) await this.send(ch, null, DONE).wait();
        sent.add(ch.peer);
      }),
      ...[...this.in.values()].map(async (ch) => {
        await ch.finished;
        waiting.delete(ch.peer);
      }),
    ]);
    all.catch(() => {}); // past the deadline, the channels closed by end() fail it: reported by the deadline's error
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const name = (r: number): number => this.pg.globalRanks[r] ?? r;
        const unsent = [...this.out.keys()].filter((r) => !sent.has(r)).map(name);
        const silent = [...waiting].map(name);
        const what = [
          ...(silent.length > 0 ? [`${ranksText(silent)} never said done`] : []),
          ...(unsent.length > 0 ? [`the pushes to ${ranksText(unsent)} never left (the receiver takes nothing off its channel)`] : []),
        ].join("; ");
        reject(new CollectiveTimeoutError(
          `gossip finish(): rank ${name(this.rank)} waited ${this.channelTimeoutMs} ms for its neighbours to finish: ${what}; ` +
            `check that they are alive and not stopped, or raise channelTimeoutMs`,
          // Not one operation of a group's engine, so it has no sequence number (-1, as a receive-any before it claims a message).
          { op: "gossip drain", seq: -1, ranks: [...new Set([...silent, ...unsent])].sort((a, b) => a - b) },
        ));
      }, this.channelTimeoutMs);
    });
    try {
      await Promise.race([all, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  writesCheckpoints(): boolean {
    return this.rank === 0;
  }

  /**
   * The consensus distance (after finish()), the digest of this rank's parameters (equal on every
   * rank once averaged), the topology and this rank's message counts.
   */
  report(): Record<string, string | number | boolean> {
    return {
      topology: this.topology,
      ...(this.consensus ? { consensus_distance: this.consensus.distance, consensus_distance_relative: this.consensus.relative } : {}),
      averaged: this.average && this.consensus !== undefined,
      digest: this.state?.digest() ?? "",
      gossip_sends: this.counts.sends,
      gossip_sends_skipped: this.counts.sendsSkipped,
      gossip_arrivals_mixed: this.counts.arrivalsMixed,
      gossip_arrivals_overwritten: this.counts.arrivalsOverwritten,
      steps_skipped: this.counts.stepsSkipped,
      transport: this.pg.transport,
    };
  }

  traffic(): Traffic {
    return this.pg.traffic();
  }

  /**
   * Closes the channels. After finish() nothing travels on them any more (every rank drained its
   * channels before the barrier); after a failure, peers waiting on them fail at once.
   */
  async end(): Promise<void> {
    await this.closeChannels();
  }

  private async closeChannels(): Promise<void> {
    const groups = [...this.out.values(), ...this.in.values()].map((ch) => ch.group);
    this.out.clear();
    this.in.clear();
    await Promise.all(groups.map((g) => g.destroy()));
  }
}
