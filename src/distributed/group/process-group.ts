// The process group as user code sees it: rank, worldSize, and collectives on Float32Array
// buffers or tensors (group/tensor-buffers.ts), each in an awaited form (`await pg.allReduce(buf)`)
// and a non-blocking form that returns a Work handle (`const w = pg.allReduceAsync(buf); ...;
// await w.wait()`), which is what DDP uses to start a bucket's all-reduce during backward.
//
// Contract (as in NCCL and gloo): every rank issues the same collectives in the same order;
// operations run one at a time in submission order; a buffer passed to an operation must not be
// touched until the operation completes. Every operation has a deadline; failures are typed
// (CollectiveTimeoutError, CollectiveMismatchError, PeerLostError, GroupAbortedError after
// abort()) and leave the group failed (Note [a failed group stays failed] in collectives/engine.ts).
//
// Subgroups (newGroup) are groups of their own, built the way their parent was built (a comm
// thread and links of their own over TCP, a hub of their own in-process, shared memory when the
// parent has it), so a subgroup's collectives never interleave with the parent's sequence
// numbers and two disjoint subgroups run at the same time. The module that builds a group gives
// it the factory for its siblings (GroupInternals.makeSubgroup).
import type { OpRequest, OpResult, ReduceOp } from "../collectives/ops.js";
import type { EngineOptions, RankNaming } from "../collectives/engine.js";
import type { WireDtype } from "../compression/wire-dtype.js";
import { SingleExecutor } from "../executors/single-executor.js";
import type { OpExecutor } from "../executors/op-executor.js";
import type { Traffic } from "../base/traffic-counter.js";
import { validateRequest } from "../collectives/request.js";
import { denseInput, denseOutput, type CommBuffer } from "./tensor-buffers.js";
import { flightRecorder } from "./flight-recorder.js";
import type { AlgorithmOf } from "./flight-recorder.js";

export type { OpExecutor, Traffic };

/** Marks a Work made of an operation that has completed already (Note [collectives that complete on the spot]). */
const SETTLED: unique symbol = Symbol("settled work");
const RESOLVED: Promise<void> = Promise.resolve();

/** A request built from the caller's buffers, and what writes a staged output back once it succeeded. */
interface Built {
  request: OpRequest;
  after?: (() => void) | undefined;
}

/** A pending operation; `wait()` gives its result (nothing, except for recv-any: the source). */
export class Work<T = void> {
  private completed = false;
  private readonly promise: Promise<T>;

  /** `settled`: only for the group's own handles of operations that completed on the spot. */
  constructor(promise: Promise<T>, settled?: typeof SETTLED) {
    if (settled === SETTLED) {
      this.promise = promise;
      this.completed = true;
      return;
    }
    this.promise = promise.then((value) => {
      this.completed = true;
      return value;
    });
    // A failure is reported through wait(); never as an unhandled rejection if nobody waits.
    this.promise.catch(() => {
      this.completed = true;
    });
  }

  /** Resolves when the operation has completed on this rank; rejects with its error. */
  wait(): Promise<T> {
    return this.promise;
  }

  /** Whether the operation has finished (successfully or not). */
  isCompleted(): boolean {
    return this.completed;
  }
}

/** The handle of every operation that completed on the spot: all such handles are alike, so one serves. */
const DONE_WORK = new Work(RESOLVED, SETTLED);

export interface CallOptions {
  /** Deadline of this call in ms (default: the group's, 30 s unless configured). */
  timeoutMs?: number;
}

export interface ReduceOptions extends CallOptions {
  /** "sum" (default) or "avg" (sum / worldSize). */
  op?: ReduceOp;
  /**
   * Element type on the wire over TCP: "f32" (the group default unless configured otherwise),
   * "bf16" or "f16", which halve the bytes sent and round every partial sum to that type, so the
   * result is that type's precision (Note [compressed ring] in collectives/ring.ts, Note
   * [compressed recursive doubling] for all-reduces up to smallMessageBytes). Every rank must
   * pass the same value. Ignored through shared memory, where nothing goes over a network.
   */
  wire?: WireDtype;
}

export interface P2POptions extends CallOptions {
  /** Must match between the send and its receive (default 0). */
  tag?: number;
}

/** How collectives travel: "tcp", "shared-memory" (same machine), "in-process" (tests) or "single" (one rank alone). */
export type GroupTransport = "tcp" | "shared-memory" | "in-process" | "single";

/** A subgroup's settings; each defaults to its parent's. */
export interface NewGroupOptions extends Partial<EngineOptions> {
  /** Over TCP: every member must have called newGroup within this time (default: the parent's, 60 s). */
  connectTimeoutMs?: number;
}

/** What a group's factory is asked to build (ProcessGroup.newGroup). */
export interface SubgroupRequest {
  /** This process's rank in the subgroup, and the subgroup's size. */
  rank: number;
  worldSize: number;
  /** The members, in the parent's numbering (subgroup rank i is parent rank members[i]). */
  members: readonly number[];
  /** Unique among the parent's subgroups, the same on every member: the rank list and how many times it was made. */
  key: string;
  /** Job-wide names of the members, for messages (Note [global rank names] in collectives/engine.ts). */
  naming: RankNaming;
  options: NewGroupOptions;
}

/** Makes a subgroup of the same kind as the group it belongs to. */
export type SubgroupFactory = (request: SubgroupRequest) => Promise<ProcessGroup>;

/** Set by the module that builds a group (tcp-group.ts, in-process-group.ts, init.ts). */
export interface GroupInternals {
  /** How its executor runs an operation, for flight records (default: the transport's name). */
  algorithmOf?: AlgorithmOf;
  /** Job-wide rank of each member (default: 0..worldSize-1, a top-level group). */
  globalRanks?: readonly number[] | undefined;
  /** How to make subgroups; without one, newGroup refuses (except for a one-rank subgroup). */
  makeSubgroup?: SubgroupFactory;
}

function timeout(o: CallOptions | undefined): { timeoutMs?: number } {
  return o?.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs };
}

function wire(o: ReduceOptions | undefined): { wire?: WireDtype } {
  return o?.wire === undefined ? {} : { wire: o.wire };
}

export class ProcessGroup {
  private destroyed = false;
  /** Job-wide rank of each member: `globalRanks[r]` is this group's rank r in the job's numbering. */
  readonly globalRanks: readonly number[];
  private readonly makeSubgroup: SubgroupFactory | undefined;
  /** Subgroups not yet destroyed (destroyed with this group). */
  private readonly subgroups = new Set<ProcessGroup>();
  /** How many times each rank list was passed to newGroup, which names its next subgroup. */
  private readonly subgroupsMade = new Map<string, number>();
  /** Removes this subgroup from its parent's set, handing its final traffic to the parent. */
  private detach: () => void = () => {};
  /** Bytes of the subgroups destroyed so far, which still count in traffic(). */
  private retiredSent = 0;
  private retiredReceived = 0;
  /** Operations submitted whose promise has not settled yet (Note [inline all-reduce]). */
  private pending = 0;
  /** This group in the flight recorder, and the engine's numbers of its next operations (Note [flight sequence numbers]). */
  private readonly flightName: string;
  private nextCollective = 0;
  private readonly sentTo: number[];
  private readonly receivedFrom: number[];
  private readonly algorithmOf: AlgorithmOf;

  constructor(
    /** This process's rank, 0..worldSize-1. */
    readonly rank: number,
    /** Number of ranks in the group. */
    readonly worldSize: number,
    private readonly executor: OpExecutor,
    /** How collectives travel: "tcp", "shared-memory" (same machine), "in-process" (tests), or "single" (one rank alone). */
    readonly transport: GroupTransport = "tcp",
    internals: GroupInternals = {},
  ) {
    this.globalRanks = internals.globalRanks ? [...internals.globalRanks] : Array.from({ length: worldSize }, (_, r) => r);
    this.makeSubgroup = internals.makeSubgroup;
    this.flightName = flightRecorder.nameGroup(this.globalRanks, internals.globalRanks === undefined);
    this.algorithmOf = internals.algorithmOf ?? (() => transport);
    this.sentTo = new Array<number>(worldSize).fill(0);
    this.receivedFrom = new Array<number>(worldSize).fill(0);
  }

  /**
   * Whether collectives run on the calling thread (shared memory, one rank alone): each then waits
   * there for every rank, and allReduceInline() is allowed (Note [inline all-reduce]).
   */
  get collectivesInline(): boolean {
    return this.transport === "shared-memory" || this.transport === "single";
  }

  /**
   * Starts the flight record of a request about to be submitted (none for one the executor will
   * refuse as invalid); `timedByCall` for one that may run inline (Note [native call spans]).
   */
  private record(req: OpRequest, timedByCall = false): ReturnType<typeof flightRecorder.begin> {
    try {
      validateRequest(req, this.rank, this.worldSize);
    } catch {
      return undefined;
    }
    const g = this.globalRanks;
    let seq: number;
    let peers: readonly number[] = g;
    let count: number;
    switch (req.op) {
      case "send":
        seq = this.sentTo[req.peer]!++;
        peers = [g[req.peer]!];
        count = req.buffer.length;
        break;
      case "recv":
        seq = this.receivedFrom[req.peer]!++;
        peers = [g[req.peer]!];
        count = req.buffer.length;
        break;
      case "recvAny":
        seq = -1;
        count = req.buffer.length;
        break;
      default:
        seq = this.nextCollective++;
        count = req.op === "barrier" ? 0 : req.op === "reduceScatter" || req.op === "allGather" ? req.input.length : req.buffer.length;
    }
    return flightRecorder.begin(this.flightName, g[this.rank]!, seq, req.op, count, this.algorithmOf, peers, g, timedByCall);
  }

  /** Builds the request from the caller's buffers (tensors staged) and submits it; strided outputs are written back once it succeeded. */
  private submit(make: () => Built): Promise<OpResult> {
    if (this.destroyed) return Promise.reject(new Error("the process group was destroyed"));
    let built: Built;
    try {
      built = make();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.submitBuilt(built, this.record(built.request));
  }

  private submitBuilt({ request, after }: Built, flight: ReturnType<typeof flightRecorder.begin>): Promise<OpResult> {
    // The executor fills the record's waits as it fills an output buffer (Note [per-peer waits]).
    const done = this.executor.submit(request, flight?.waits);
    // Counted down before any caller's continuation runs: this handler is attached first.
    this.pending++;
    done.then(
      (result) => {
        this.pending--;
        flightRecorder.end(flight);
        // A receive-any's message number is the claimed peer's (collectives/recv-any.ts).
        if (request.op === "recvAny" && result?.source !== undefined) this.receivedFrom[result.source]!++;
      },
      (err: Error) => {
        this.pending--;
        flightRecorder.fail(flight, err);
      },
    );
    if (!after) return done;
    return done.then((result) => {
      after();
      return result;
    });
  }

  private start(make: () => Built): Work {
    const runNow = this.executor.runNow;
    if (runNow === undefined || this.pending > 0 || this.destroyed) {
      // Collectives resolve with nothing; only recv-any's result (recvAnyAsync) is read.
      return new Work(this.submit(make) as Promise<void>);
    }
    // Note [collectives that complete on the spot]
    let built: Built;
    try {
      built = make();
    } catch (err) {
      return new Work(Promise.reject(err));
    }
    const flight = this.record(built.request, true);
    let ran: boolean;
    try {
      ran = runNow.call(this.executor, built.request, flight?.waits, flight?.span);
    } catch (err) {
      flightRecorder.fail(flight, err as Error);
      return new Work(Promise.reject(err));
    }
    if (!ran) {
      flightRecorder.started(flight);
      return new Work(this.submitBuilt(built, flight) as Promise<void>);
    }
    flightRecorder.end(flight);
    built.after?.();
    return DONE_WORK;
  }

  /** Starts an in-place all-reduce of `buffer` (sum by default) and returns its handle. */
  allReduceAsync(buffer: CommBuffer, options?: ReduceOptions): Work {
    return this.start(() => {
      const b = denseOutput(buffer, true, "all-reduce");
      return { request: { op: "allReduce", buffer: b.data, reduceOp: options?.op ?? "sum", ...wire(options), ...timeout(options) }, after: b.after };
    });
  }

  /** In-place all-reduce: every rank ends with the element-wise sum (or average) of all buffers. */
  allReduce(buffer: CommBuffer, options?: ReduceOptions): Promise<void> {
    return this.allReduceAsync(buffer, options).wait();
  }

  /**
   * An in-place all-reduce that has completed when it returns, and throws its error: for the
   * autograd operators of tensor parallelism, whose backward cannot await (Note [inline
   * all-reduce]). Only where collectives run on the calling thread: shared memory, or one rank.
   * `buffer` is a dense Float32Array; every rank of the group must call it at the same point of
   * its sequence of collectives, as for allReduce.
   *
   * @example Done when it returns on a group of one; refused where collectives run elsewhere
   * ```ts
   * import { createInProcessGroups, initProcessGroup } from "weft";
   * const alone = await initProcessGroup();                 // no launcher: rank 0 of 1
   * const b = Float32Array.of(1, 2);
   * alone.allReduceInline(b);
   * assert.deepEqual(Array.from(b), [1, 2]);
   * const [a] = createInProcessGroups(2);
   * assert.throws(() => a!.allReduceInline(b), /go over in-process, not shared memory/);
   * ```
   */
  allReduceInline(buffer: Float32Array, options?: ReduceOptions): void {
    if (!this.collectivesInline) {
      throw new Error(
        `all-reduce inline: this group's collectives go over ${this.transport}, not shared memory; tensor parallelism needs ` +
          `its ranks on one machine with shared memory (WEFT_SHM not 0): keep each tensor-parallel group inside one machine`,
      );
    }
    if (this.destroyed) throw new Error("all-reduce inline: the process group was destroyed");
    if (this.pending > 0) throw new Error(`all-reduce inline: ${this.pending} earlier operation(s) of this group have not completed: await them first`);
    const request: OpRequest = { op: "allReduce", buffer, reduceOp: options?.op ?? "sum", ...timeout(options) };
    validateRequest(request, this.rank, this.worldSize);
    const earlier = this.executor.failure();
    if (earlier) throw earlier;
    const runNow = this.executor.runNow;
    if (runNow === undefined) throw new Error(`all-reduce inline: this group's executor cannot run collectives on the calling thread`);
    const flight = this.record(request, true);
    let ran: boolean;
    try {
      ran = runNow.call(this.executor, request, flight?.waits, flight?.span);
    } catch (err) {
      // This operation's own error. failure() would not do: a peer that finished its last
      // collective and left closes its links meanwhile, and this rank's TCP side reports that
      // as a failure although the operation here completed.
      flightRecorder.fail(flight, err as Error);
      throw err;
    }
    if (!ran) {
      const busy = new Error("all-reduce inline: an earlier operation of this group is still queued: await it first");
      flightRecorder.fail(flight, busy);
      throw busy;
    }
    flightRecorder.end(flight);
  }

  /** Starts a reduce-scatter: `input` (worldSize × m) is reduced and rank r gets chunk r in `output` (m). */
  reduceScatterAsync(input: CommBuffer, output: CommBuffer, options?: ReduceOptions): Work {
    return this.start(() => {
      const out = denseOutput(output, false, "reduce-scatter");
      const request: OpRequest = { op: "reduceScatter", input: denseInput(input, "reduce-scatter"), output: out.data, reduceOp: options?.op ?? "sum", ...wire(options), ...timeout(options) };
      return { request, after: out.after };
    });
  }

  reduceScatter(input: CommBuffer, output: CommBuffer, options?: ReduceOptions): Promise<void> {
    return this.reduceScatterAsync(input, output, options).wait();
  }

  /** Starts an all-gather: rank r's `input` (m) lands at output[r·m, (r+1)·m) on every rank. */
  allGatherAsync(input: CommBuffer, output: CommBuffer, options?: CallOptions): Work {
    return this.start(() => {
      const out = denseOutput(output, false, "all-gather");
      return { request: { op: "allGather", input: denseInput(input, "all-gather"), output: out.data, ...timeout(options) }, after: out.after };
    });
  }

  allGather(input: CommBuffer, output: CommBuffer, options?: CallOptions): Promise<void> {
    return this.allGatherAsync(input, output, options).wait();
  }

  /** Starts a broadcast of `root`'s buffer into every rank's `buffer`. */
  broadcastAsync(buffer: CommBuffer, root: number, options?: CallOptions): Work {
    return this.start(() => {
      const b = denseOutput(buffer, true, "broadcast");
      return { request: { op: "broadcast", buffer: b.data, root, ...timeout(options) }, after: b.after };
    });
  }

  broadcast(buffer: CommBuffer, root: number, options?: CallOptions): Promise<void> {
    return this.broadcastAsync(buffer, root, options).wait();
  }

  /** Starts a barrier: completes once every rank has reached it. */
  barrierAsync(options?: CallOptions): Work {
    return this.start(() => ({ request: { op: "barrier", ...timeout(options) } }));
  }

  barrier(options?: CallOptions): Promise<void> {
    return this.barrierAsync(options).wait();
  }

  /** Starts sending `buffer` to rank `dst` (completes once handed to the network). */
  sendAsync(buffer: CommBuffer, dst: number, options?: P2POptions): Work {
    return this.start(() => ({ request: { op: "send", buffer: denseInput(buffer, "send"), peer: dst, tag: options?.tag ?? 0, ...timeout(options) } }));
  }

  send(buffer: CommBuffer, dst: number, options?: P2POptions): Promise<void> {
    return this.sendAsync(buffer, dst, options).wait();
  }

  /** Starts receiving the next message from rank `src` into `buffer` (its size and tag must match). */
  recvAsync(buffer: CommBuffer, src: number, options?: P2POptions): Work {
    return this.start(() => {
      const b = denseOutput(buffer, false, "recv");
      return { request: { op: "recv", buffer: b.data, peer: src, tag: options?.tag ?? 0, ...timeout(options) }, after: b.after };
    });
  }

  recv(buffer: CommBuffer, src: number, options?: P2POptions): Promise<void> {
    return this.recvAsync(buffer, src, options).wait();
  }

  /**
   * Starts receiving the next message with `options.tag` (default 0) from whichever rank sends
   * one first; `wait()` gives its sender, in this group's numbering (the rank to reply to). The
   * other side is an ordinary send(). Its size must match `buffer`; a message with another tag
   * is left for a recv() with that tag (collectives/recv-any.ts).
   *
   * @example A server takes the first message, whoever sent it
   * ```ts
   * import { createInProcessGroups } from "weft";
   * const [server, a, b] = createInProcessGroups(3);
   * const sent = b!.send(Float32Array.of(42), 0);        // only rank 2 sends
   * const got = new Float32Array(1);
   * assert.deepEqual(await server!.recvAny(got), { source: 2 });
   * assert.equal(got[0], 42);
   * await sent;
   * await Promise.all([server!, a!, b!].map((pg) => pg.destroy()));
   * ```
   */
  recvAnyAsync(buffer: CommBuffer, options?: P2POptions): Work<{ source: number }> {
    const done = this.submit(() => {
      const b = denseOutput(buffer, false, "recv-any");
      return { request: { op: "recvAny", buffer: b.data, tag: options?.tag ?? 0, ...timeout(options) }, after: b.after };
    });
    return new Work(done.then((result) => ({ source: (result as { source: number }).source })));
  }

  recvAny(buffer: CommBuffer, options?: P2POptions): Promise<{ source: number }> {
    return this.recvAnyAsync(buffer, options).wait();
  }

  /**
   * A group of `ranks` (this group's numbering; subgroup rank i is ranks[i]), or null on a rank
   * not in the list, so the same line runs on every rank. Every member must call it with the same
   * list, in the same order relative to its other newGroup calls; other ranks need not call it.
   * The subgroup is a group of its own, of this one's kind, with the same deadlines, descriptor
   * checks and typed errors; errors name job-wide ranks (Note [global rank names]). It is
   * destroyed with this group at the latest.
   *
   * @example Two pairs reduce on their own
   * ```ts
   * import { createInProcessGroups } from "weft";
   * const groups = createInProcessGroups(4);
   * const pairs = await Promise.all(groups.map((pg) => pg.newGroup(pg.rank < 2 ? [0, 1] : [2, 3])));
   * const bufs = groups.map((pg) => Float32Array.of(pg.rank));
   * await Promise.all(pairs.map((pair, r) => pair!.allReduce(bufs[r]!)));
   * assert.deepEqual(bufs.map((b) => b[0]), [1, 1, 5, 5]);
   * assert.deepEqual(pairs[3]!.globalRanks, [2, 3]);
   * await Promise.all(groups.map((pg) => pg.destroy()));   // and the pairs
   * ```
   */
  async newGroup(ranks: readonly number[], options: NewGroupOptions = {}): Promise<ProcessGroup | null> {
    const list = [...ranks];
    const bad = list.find((r) => !Number.isInteger(r) || r < 0 || r >= this.worldSize);
    if (list.length === 0 || bad !== undefined || new Set(list).size !== list.length) {
      throw new RangeError(
        `newGroup([${list.join(", ")}]): pass distinct ranks of this group (0..${this.worldSize - 1}), at least one` +
          (bad !== undefined ? `; ${bad} is not one` : ""),
      );
    }
    // Counted on every caller before anything is awaited, so members agree on the name however
    // their calls interleave with other work.
    const listKey = list.join(",");
    const made = this.subgroupsMade.get(listKey) ?? 0;
    this.subgroupsMade.set(listKey, made + 1);
    const index = list.indexOf(this.rank);
    if (index < 0) return null;
    if (this.destroyed) throw new Error(`newGroup([${listKey}]): the process group was destroyed`);
    const globalRanks = list.map((r) => this.globalRanks[r]!);
    let sub: ProcessGroup;
    if (list.length === 1) {
      sub = new ProcessGroup(0, 1, new SingleExecutor(globalRanks[0]), "single", { globalRanks });
    } else {
      if (!this.makeSubgroup) throw new Error(`newGroup([${listKey}]): this process group was built without a way to make subgroups`);
      sub = await this.makeSubgroup({
        rank: index,
        worldSize: list.length,
        members: list,
        key: `[${listKey}]#${made}`,
        naming: { globalRanks, scope: ` in group [${globalRanks.join(", ")}]` },
        // An option given as undefined means the parent's, not "unset" (spread would erase the parent's).
        options: Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as NewGroupOptions,
      });
    }
    // The subgroup's bytes move to the retired totals as it leaves the set, in one synchronous
    // step, so traffic() counts them exactly once whenever it is read.
    sub.detach = () => {
      this.subgroups.delete(sub);
      const t = sub.traffic();
      this.retiredSent += t.sent;
      this.retiredReceived += t.received;
    };
    if (this.destroyed) {
      await sub.destroy();
      throw new Error(`newGroup([${listKey}]): the process group was destroyed while the subgroup was set up`);
    }
    this.subgroups.add(sub);
    return sub;
  }

  /**
   * Bytes this process has sent and received for this group and its subgroups so far (those
   * destroyed included), headers included: over TCP every frame on the group's links (32-byte
   * header plus payload, not the authentication handshake); in-process the same frames as they
   * are handed over; through shared memory what this rank writes into the segment and reads of
   * the other ranks' data (Note [shared-memory traffic] in executors/shm-executor.ts), plus its
   * TCP links' frames. A group of one rank moves nothing. The totals only grow, and stay readable
   * after destroy(); take differences to measure an interval.
   *
   * @example An all-reduce between two ranks sends the ring's bytes: 2(w-1)/w of the buffer
   * ```ts
   * import { createInProcessGroups } from "weft";
   * const groups = createInProcessGroups(2);
   * const bufs = groups.map(() => new Float32Array(1 << 16));      // 256 KiB each
   * await Promise.all(groups.map((pg, r) => pg.allReduce(bufs[r]!)));
   * const [a, b] = groups.map((pg) => pg.traffic());
   * assert.ok(a!.sent >= 1 << 18 && a!.sent < (1 << 18) + 1024);  // payload, plus a few 32-byte headers
   * assert.equal(a!.sent, b!.received);
   * await Promise.all(groups.map((pg) => pg.destroy()));
   * ```
   */
  traffic(): Traffic {
    const own = this.executor.traffic();
    let sent = own.sent + this.retiredSent;
    let received = own.received + this.retiredReceived;
    for (const sub of this.subgroups) {
      const t = sub.traffic();
      sent += t.sent;
      received += t.received;
    }
    return { sent, received };
  }

  /**
   * Fails the operation running now and every later one, on every rank of this group, at once,
   * with GroupAbortedError (`ranks` empty: nobody was lost; the message names this rank and
   * `reason`). Peers are told by an Abort frame over TCP, directly in-process. For an elastic job
   * that re-forms its group at a step boundary (say, because a worker wants to join): abort, then
   * destroy, then build the next generation. Returns at once; the failures follow within
   * milliseconds. This group only: subgroups are groups of their own (abort them too if they
   * should stop). Through shared memory a peer's collective that is already waiting in the
   * segment runs to its deadline, and its later ones are refused once its comm thread has heard
   * of the abort (a turn of its event loop). Does nothing after destroy().
   *
   * @example Rank 0 aborts while rank 1 waits in an all-reduce
   * ```ts
   * import { createInProcessGroups, GroupAbortedError } from "weft";
   * const [a, b] = createInProcessGroups(2);
   * const waiting = b!.allReduce(new Float32Array(4));
   * a!.abort("a worker asked to join");
   * await assert.rejects(waiting, (e) => e instanceof GroupAbortedError && /rank 0 aborted/.test(e.message) && e.ranks.length === 0);
   * await assert.rejects(a!.barrier(), GroupAbortedError);          // later operations are refused
   * await Promise.all([a!.destroy(), b!.destroy()]);
   * ```
   */
  abort(reason: string): void {
    if (this.destroyed) return;
    this.executor.abort(reason);
  }

  /** Closes the links and the comm thread, after this group's subgroups; operations still running fail. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await Promise.all([...this.subgroups].map((g) => g.destroy()));
    await this.executor.close();
    this.detach();
  }
}

// Note [collectives that complete on the spot]
// Where collectives run on the calling thread (shared memory, a group of one), a collective
// submitted while nothing of the group is in flight has completed by the time the executor
// returns (OpExecutor.runNow). Its Work is then made settled: no promise chain, no handlers,
// its flight record closed at once. That chain cost a 4 KiB all-reduce through shared memory
// about a fifth of its time (2.75 against 2.18 µs back to back, allReduceInline being the
// latter). Its errors still reach the caller through wait(), as a rejected promise, and are
// recorded as the group's failure first, as on every other path.
//
// Note [inline all-reduce]
// Megatron's operators f and g (distributed/tensor-parallel/) all-reduce inside forward and
// backward, and our backward (tensor/autograd.ts) is a synchronous loop. Where collectives run
// on the calling thread, shared memory (executors/shm-executor.ts) and a group of one
// (single-executor.ts), OpExecutor.runNow has done the work when it returns, so the result can be
// read at once. Three things make that safe to rely on: nothing of this group may be in flight
// (the shared-memory executor queues a collective behind pending point-to-point operations, so
// `pending` refuses rather than returning an unreduced buffer); the request is validated here,
// so the only errors left are collective failures, which runNow throws; and a group that failed
// earlier is refused with its first error. The operation's outcome is what runNow threw, not
// failure() read afterwards: the TCP side fills that asynchronously, and a peer that completed
// this same all-reduce and then left the job reads there as a lost peer (2 of 24 runs of the
// tensor-parallel layer test failed so on a loaded machine, when failure() was read).
