// Collectives through shared memory for a group whose ranks all run on this machine (native
// protocol: Note [shm chunk protocol] in native/dist/shm-group.h); point-to-point send, recv and
// recv-any still go over the group's TCP links.
//
// A shared-memory collective runs inline, on the thread that submits it: there is no socket to
// keep moving while a kernel runs elsewhere, so the comm thread's hand-offs (two, ~45 µs each)
// would only add latency. The call blocks until every rank has arrived or the deadline passes;
// the returned promise is already settled. Operations still run one at a time in submission
// order: one submitted while TCP operations are in flight waits for them.
//
// A `wire` type asked of all-reduce or reduce-scatter is accepted and ignored: it trades precision
// for network bytes, and memory is not a network; the results here are float32 sums in rank
// order. Ranks passing different `wire` values are therefore not a mismatch here (they are over
// TCP, Note [collective descriptors]).
//
// Note [shared-memory traffic]: no socket carries these collectives, so traffic() counts the bytes
// a rank moves through the segment, from the operation's size and the protocol (Note [shm chunk
// protocol]) rather than in the copy loops, which stay as they are: "sent" is what this rank
// writes into its slots, "received" what it reads of the other ranks' slots (its own slot, which
// the reading loops may also read, is not counted). For an operation on n floats (reduce-scatter:
// n = output floats) in a group of w ranks:
//   all-reduce      sent 4n      received 4n(w-1)
//   reduce-scatter  sent 4nw     received 4n(w-1)
//   all-gather      sent 4n      received 4n(w-1)
//   broadcast       root: sent 4n, received 0; every other rank: sent 0, received 4n
//   barrier         0, 0
// The arrival counters and descriptors (a few words per chunk) are not counted, and an operation
// counts once it has succeeded. Send, recv and recv-any go over TCP and are counted by the TCP
// executor, whose totals (the set-up's barrier and all-reduce included) traffic() adds.
//
// A failure of the TCP side (a peer's link closed or fell silent, or a peer aborted the group)
// reaches this thread as the TCP executor's failure(), and later collectives are refused with it
// too (Note [a failed group stays failed] in collectives/engine.ts). abort() refuses later
// operations here and aborts the TCP side, which fails the peers' TCP engines and so their next
// collectives. What it cannot do is stop a collective that a peer is running in the segment now:
// that call blocks in native code until every rank arrives or its deadline passes.
import {
  CollectiveError, CollectiveMismatchError, CollectiveTimeoutError, GroupAbortedError, PeerLostError, ranksText, withMessage,
} from "../base/errors.js";
import { describeMismatch, type OpDescriptor } from "../collectives/descriptor.js";
import { validateRequest } from "../collectives/request.js";
import type { ShmDescriptor, ShmFailure, ShmHandle, DistAddon } from "../base/native-dist.js";
import { OP_DISPLAY_NAMES, type OpName, type OpRequest, type OpResult, type OpSpan, type ReduceOp, type WaitsOut } from "../collectives/ops.js";
import type { RankNaming } from "../collectives/engine.js";
import type { OpExecutor } from "./op-executor.js";
import { OpChain } from "./op-chain.js";
import type { Traffic } from "../base/traffic-counter.js";

const DONE: Promise<OpResult> = Promise.resolve();

/** Operation codes of native/dist/shm-group.h. */
const OP_CODE: Partial<Record<OpName, number>> = { allReduce: 1, reduceScatter: 2, allGather: 3, broadcast: 4, barrier: 5 };
const OP_OF_CODE: OpName[] = ["barrier", "allReduce", "reduceScatter", "allGather", "broadcast", "barrier"];
const REDUCE_CODE: Record<ReduceOp | "none", number> = { none: 0, sum: 1, avg: 2 };
const REDUCE_OF_CODE: (ReduceOp | "none")[] = ["none", "sum", "avg"];

export interface SharedMemoryOptions {
  /** Default deadline of every operation (ms). */
  timeoutMs: number;
  /** How long a wait spins before it sleeps (µs): worth it when each rank has a core of its own. */
  spinUs: number;
  /** A subgroup's job-wide rank names for messages (Note [global rank names] in collectives/engine.ts). */
  naming?: RankNaming | undefined;
  /** The array given to shmOpen: worldSize waits, which every successful operation fills (Note [shm arrival stamps]), then every call's span (Note [native call spans]). */
  waitedMs: Float64Array;
}

export class SharedMemoryExecutor implements OpExecutor {
  private seq = 0;
  private readonly chain = new OpChain();
  private broken: Error | null = null;
  private closed = false;
  /** Bytes through the segment (Note [shared-memory traffic]); only this thread writes them. */
  private sentBytes = 0;
  private receivedBytes = 0;

  constructor(
    private readonly addon: DistAddon,
    private readonly handle: ShmHandle,
    private readonly rank: number,
    private readonly worldSize: number,
    /** Runs send/recv (the group's TCP executor); closed with this one. */
    private readonly p2p: OpExecutor,
    private readonly options: SharedMemoryOptions,
  ) {}

  submit(req: OpRequest, waitedMs?: WaitsOut): Promise<OpResult> {
    const p2p = req.op === "send" || req.op === "recv" || req.op === "recvAny";
    // The common case, nothing in flight: run now and hand back a settled promise, with no chain
    // (a 4 KiB all-reduce costs a few microseconds, and each promise in a chain about a fifth).
    if (this.chain.idle && !p2p) return this.settled(req, waitedMs);
    const start = (): Promise<OpResult> => {
      if (!p2p) return this.settled(req, waitedMs);
      const refused = this.refusal(req);
      return refused ? Promise.reject(refused) : this.p2p.submit(req);
    };
    return this.chain.enqueue(start, (err) => {
      if (err instanceof CollectiveError) this.broken ??= err;
    });
  }

  /** Runs a collective now when nothing is in flight (OpExecutor.runNow); point-to-point goes through submit(). */
  runNow(req: OpRequest, waitedMs?: WaitsOut, span?: OpSpan): boolean {
    if (!this.chain.idle || req.op === "send" || req.op === "recv" || req.op === "recvAny") return false;
    const refused = this.refusal(req);
    if (refused) throw refused;
    try {
      this.runInline(req, waitedMs, span);
    } catch (err) {
      if (err instanceof CollectiveError) this.broken ??= err;
      throw err;
    }
    return true;
  }

  /** Why `req` may not start (the group was destroyed or failed earlier, here or on the TCP side), or undefined. */
  private refusal(req: OpRequest): Error | undefined {
    if (this.closed) return new Error(`${OP_DISPLAY_NAMES[req.op]}: the process group was destroyed`);
    const broken = this.broken ?? this.p2p.failure();
    if (!broken) return undefined;
    const why = `${OP_DISPLAY_NAMES[req.op]} not started: the group failed earlier and must be re-formed (${broken.message})`;
    return broken instanceof CollectiveError ? withMessage(broken, why) : new Error(why);
  }

  abort(reason: string): void {
    if (this.closed) return;
    this.p2p.abort(reason);
    const naming = this.options.naming;
    const group = naming ? `group [${naming.globalRanks.join(", ")}]` : "the process group";
    this.broken ??= new GroupAbortedError(`rank ${this.name(this.rank)} aborted ${group}: ${reason}; build a new group to go on`, { op: "none", seq: this.seq, ranks: [] });
  }

  failure(): CollectiveError | undefined {
    return this.broken instanceof CollectiveError ? this.broken : this.p2p.failure();
  }

  /** Runs a collective inline; returns it as a settled promise, recording a failure for the ops after it. */
  private settled(req: OpRequest, waitedMs: WaitsOut): Promise<OpResult> {
    const refused = this.refusal(req);
    if (refused) return Promise.reject(refused);
    try {
      this.runInline(req, waitedMs);
      return DONE;
    } catch (err) {
      if (err instanceof CollectiveError) this.broken ??= err;
      return Promise.reject(err);
    }
  }

  /** Throws the operation's error; fills `waitsOut` (Note [shm arrival stamps]) and `span` (Note [native call spans]). */
  private runInline(req: OpRequest, waitsOut: WaitsOut, span?: OpSpan): void {
    validateRequest(req, this.rank, this.worldSize);
    const seq = this.seq++;
    const timeoutMs = req.timeoutMs ?? this.options.timeoutMs;
    const code = OP_CODE[req.op]!;
    let failure: ShmFailure | null;
    const run = (reduce: ReduceOp | "none", root: number, count: number, a: Float32Array | null, b: Float32Array | null): ShmFailure | null =>
      this.addon.shmRun(this.handle, code, REDUCE_CODE[reduce], root, count, a, b, timeoutMs, this.options.spinUs);
    // Bytes this rank writes into its slots and reads of the others' (Note [shared-memory traffic]).
    let sent = 0;
    let received = 0;
    switch (req.op) {
      case "allReduce":
        failure = run(req.reduceOp, -1, req.buffer.length, req.buffer, null);
        sent = 4 * req.buffer.length;
        received = sent * (this.worldSize - 1);
        break;
      case "reduceScatter":
        failure = run(req.reduceOp, -1, req.output.length, req.input, req.output);
        sent = 4 * req.input.length;
        received = 4 * req.output.length * (this.worldSize - 1);
        break;
      case "allGather":
        failure = run("none", -1, req.input.length, req.input, req.output);
        sent = 4 * req.input.length;
        received = sent * (this.worldSize - 1);
        break;
      case "broadcast":
        failure = run("none", req.root, req.buffer.length, req.buffer, null);
        if (req.root === this.rank) sent = 4 * req.buffer.length;
        else received = 4 * req.buffer.length;
        break;
      default:
        failure = run("none", -1, 0, null, null);
    }
    const from = this.options.waitedMs;
    const w = this.worldSize;
    if (span !== undefined) {
      span[0] = from[w]!;
      span[1] = from[w + 1]!;
    }
    if (failure !== null) throw this.errorOf(req.op, seq, timeoutMs, failure);
    this.sentBytes += sent;
    this.receivedBytes += received;
    // A loop, not set(): TypedArray.prototype.set from a shared buffer takes a slow path.
    if (waitsOut?.length === w) for (let r = 0; r < w; r++) waitsOut[r] = from[r]!;
  }

  /** Bytes through the segment (Note [shared-memory traffic]) plus those of the TCP links. */
  traffic(): Traffic {
    const tcp = this.p2p.traffic();
    return { sent: this.sentBytes + tcp.sent, received: this.receivedBytes + tcp.received };
  }

  /** How `r` is named in messages (Note [global rank names] in collectives/engine.ts). */
  private name(r: number): number {
    return this.options.naming?.globalRanks[r] ?? r;
  }

  private errorOf(op: OpName, seq: number, timeoutMs: number, f: ShmFailure): Error {
    const display = OP_DISPLAY_NAMES[op];
    const scope = this.options.naming?.scope ?? "";
    const label = `${display} #${seq}${scope}`;
    const ranks = f.ranks.map((r) => this.name(r));
    const details = { op: display, seq, ranks };
    switch (f.status) {
      case "timeout":
        return new CollectiveTimeoutError(
          `${label} did not finish within ${timeoutMs} ms: ${ranksText(ranks)} never arrived; ` +
            `check that they are alive and issue the same collectives in the same order, or raise timeoutMs`,
          details,
        );
      case "peerLost":
        return new PeerLostError(`${label}: the process of ${ranksText(ranks)} is gone (it exited or was killed)`, details);
      case "mismatch": {
        const mine = this.descriptor(f.descriptors[this.rank]!);
        const me = this.name(this.rank);
        for (let r = 0; r < f.descriptors.length; r++) {
          const msg = r === this.rank ? undefined : describeMismatch(seq, mine, me, this.descriptor(f.descriptors[r]!), this.name(r), scope);
          if (msg) return new CollectiveMismatchError(msg, { op: display, seq, ranks: [me, this.name(r)] });
        }
        // This rank agrees with every other one; two others disagree between themselves.
        const [a, b] = this.disagreeingPair(f.descriptors);
        const msg = describeMismatch(seq, this.descriptor(f.descriptors[a]!), this.name(a), this.descriptor(f.descriptors[b]!), this.name(b), scope)!;
        return new CollectiveMismatchError(msg, { op: display, seq, ranks: [this.name(a), this.name(b)] });
      }
      default:
        return new CollectiveError(`${label}: the group failed earlier and must be re-formed`, details);
    }
  }

  private disagreeingPair(ds: ShmDescriptor[]): [number, number] {
    for (let a = 0; a < ds.length; a++) {
      for (let b = a + 1; b < ds.length; b++) {
        if (describeMismatch(0, this.descriptor(ds[a]!), a, this.descriptor(ds[b]!), b)) return [a, b];
      }
    }
    return [0, 0];
  }

  /** The native descriptor in the TCP path's terms, so both paths word a mismatch the same way. */
  private descriptor(d: ShmDescriptor): OpDescriptor {
    const op = OP_OF_CODE[d.op] ?? "barrier";
    return {
      op,
      // Like describeRequest: reduce-scatter is described by its input (worldSize × output).
      count: op === "reduceScatter" ? d.count * this.worldSize : d.count,
      root: d.root < 0 ? 0 : d.root,
      reduceOp: REDUCE_OF_CODE[d.reduce] ?? "none",
      wire: "f32", // ignored here, so never compared
      algorithm: "none",
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.addon.shmClose(this.handle);
    await this.p2p.close();
  }
}
