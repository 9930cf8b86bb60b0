// A TCP group's small all-reduces and barriers on the calling thread, over links of their own
// (fast-links.ts; the protocol: Note [fast link frames] in native/dist/tcp-fast.h); everything
// else on the comm thread (threaded-executor.ts).
//
// Note [two paths, one order]
// Which path an operation takes depends only on the call: an all-reduce of float32 on the wire
// of at most `fastBytes`, or a barrier, goes here; between two ranks, a larger float32 all-reduce
// runs on the same links in halves, on a thread of libuv's pool so that this thread goes on (Note
// [all-reduce in halves] in native/dist/tcp-fast.h); every other operation goes to the comm thread.
// Ranks that issue the same collectives in the same order therefore route each one alike. The
// operations still run one at a time in submission order, as on one path: one for here that is
// submitted while comm-thread operations are in flight starts when they have finished (and one
// for the comm thread waits for those before it). The fast path numbers its operations, and
// every frame carries that number and the call, so two ranks whose fast calls differ fail with a
// mismatch naming both calls. A collective's number is its place among all of the group's, on
// either path: the comm thread is told how many numbers the fast path used in between
// (engine.run's skipSeqs), so errors and the flight recorder name one numbering. A collective
// for the comm thread is announced on the fast links first (Note [announcements] in
// native/dist/tcp-fast.h), so ranks whose calls differ across the paths (one rank's all-reduce
// is small, its peer's large; an all-reduce against an all-gather) fail at once with a mismatch
// naming both calls too.
//
// A failure here (a mismatch, a timeout, a peer that closed its link) fails the group, as one on
// the comm thread does (Note [a failed group stays failed] in collectives/engine.ts): the comm
// thread is handed the error, fails its side with it and tells every peer, whose fast collective
// waiting on this rank stops with it. A failure the comm thread learns of itself (a peer silent,
// an abort) reaches a fast collective through shared memory, which it polls while it waits (Note
// [the failure in shared memory] in comm-messages.ts).
import { CollectiveError, CollectiveMismatchError, CollectiveTimeoutError, GroupAbortedError, PeerLostError, ranksText, withMessage } from "../base/errors.js";
import { describeMismatch, type OpDescriptor } from "../collectives/descriptor.js";
import type { RankNaming } from "../collectives/engine.js";
import { OP_DISPLAY_NAMES, type OpName, type OpRequest, type OpResult, type OpSpan, type ReduceOp, type WaitsOut } from "../collectives/ops.js";
import { validateRequest } from "../collectives/request.js";
import type { FastAddon, FastFailure } from "../base/native-dist.js";
import type { Traffic } from "../base/traffic-counter.js";
import type { WireDtype } from "../compression/wire-dtype.js";
import type { FastLinks } from "./fast-links.js";
import type { OpExecutor } from "./op-executor.js";
import { OpChain } from "./op-chain.js";
import type { ThreadedExecutor } from "./threaded-executor.js";

const DONE: Promise<OpResult> = Promise.resolve();
/** Operation and reduction codes of the frame header (the shared-memory path's numbers). */
const OP_CODE: Partial<Record<OpName, number>> = { allReduce: 1, reduceScatter: 2, allGather: 3, broadcast: 4, barrier: 5 };
const OP_OF_CODE: OpName[] = ["barrier", "allReduce", "reduceScatter", "allGather", "broadcast", "barrier"];
const REDUCE_CODE = { none: 0, sum: 1, avg: 2 } as const;
const REDUCE_OF_CODE: (ReduceOp | "none")[] = ["none", "sum", "avg"];
const HEADER_BYTES = 16;
/** The header's root for an all-reduce in halves (kHalvesAlgorithm in native/dist/tcp-fast.h). */
const HALVES_ALGORITHM = 1;
/** How long a fast collective whose peer's link closed waits for the comm thread's word on why (ms). */
const VERDICT_WAIT_MS = 250;

export interface FastPathOptions {
  /** All-reduces up to this many bytes take the fast path. */
  fastBytes: number;
  /** Default deadline of every operation (ms). */
  timeoutMs: number;
  /** How long a wait spins before it sleeps in poll() (µs). */
  spinUs: number;
  /** The group's wire type for all-reduces that name none (only float32 takes the fast path). */
  wire: WireDtype;
  naming?: RankNaming | undefined;
}

export class FastTcpExecutor implements OpExecutor {
  /** Collectives submitted so far, on both paths: the next one's number (Note [two paths, one order]). */
  private seq = 0;
  /** The number the comm thread's engine gives its next collective unless told to skip. */
  private commSeq = 0;
  private readonly chain = new OpChain();
  private broken: Error | undefined;
  private closed = false;
  private scratch = new Float32Array(0);
  /** Half of the largest all-reduce in halves so far: where the peer's copy of our half lands. */
  private halvesScratch = new Float32Array(0);
  private sentBytes = 0;
  private receivedBytes = 0;
  /** What an inline all-reduce fills: worldSize waits, then its span (Note [native call spans] in group/flight-recorder.ts). */
  private readonly callWaits: Float64Array;
  /** Messages this rank sends and receives per fast operation (recursive doubling's shape). */
  private readonly messages: number;

  constructor(
    private readonly addon: FastAddon,
    private readonly links: FastLinks,
    private readonly rank: number,
    private readonly worldSize: number,
    /** Runs everything else; closed with this one. */
    private readonly inner: ThreadedExecutor,
    private readonly options: FastPathOptions,
  ) {
    this.callWaits = new Float64Array(worldSize + 2);
    const p = 2 ** Math.floor(Math.log2(worldSize));
    const extra = worldSize - p;
    this.messages = rank >= p ? 1 : Math.log2(p) + (rank < extra ? 1 : 0);
  }

  /** Whether `req` runs on this thread (Note [two paths, one order]). */
  private fast(req: OpRequest): boolean {
    if (req.op === "barrier") return true;
    return req.op === "allReduce" && (req.wire ?? this.options.wire) === "f32" && req.buffer.length * 4 <= this.options.fastBytes;
  }

  /** Whether `req` is a larger all-reduce between two ranks, in halves on the fast links off this thread (Note [two paths, one order]). */
  private inHalves(req: OpRequest): req is Extract<OpRequest, { op: "allReduce" }> {
    return this.worldSize === 2 && req.op === "allReduce" && (req.wire ?? this.options.wire) === "f32" && req.buffer.length >= 2 && req.buffer.length * 4 > this.options.fastBytes;
  }

  submit(req: OpRequest, waitedMs?: WaitsOut): Promise<OpResult> {
    const fast = this.fast(req);
    if (this.chain.idle && fast) return this.settled(req, this.seq++, waitedMs);
    // Numbered now, in submission order, whichever path and whenever it starts.
    const p2p = req.op === "send" || req.op === "recv" || req.op === "recvAny";
    const halves = this.inHalves(req);
    const seq = p2p ? -1 : this.seq++;
    let skip = 0;
    if (!fast && !halves && !p2p) {
      skip = seq - this.commSeq;
      this.commSeq = seq + 1;
    }
    const start = (): Promise<OpResult> => {
      if (fast) return this.settled(req, seq, waitedMs);
      if (halves) return this.runInHalves(req, seq, waitedMs);
      const refused = this.refusal(req);
      if (refused) return Promise.reject(refused);
      if (!p2p) {
        const announced = this.announce(req, seq);
        if (announced) return Promise.reject(announced);
      }
      return this.inner.submit(req, waitedMs, skip);
    };
    return this.chain.enqueue(start, (err) => {
      if (err instanceof CollectiveError) this.broken ??= err;
    });
  }

  /** Runs a fast operation now when nothing is in flight (OpExecutor.runNow); the others go through submit(). */
  runNow(req: OpRequest, waitedMs?: WaitsOut, span?: OpSpan): boolean {
    if (!this.chain.idle || !this.fast(req)) return false;
    this.runInline(req, this.seq++, waitedMs, span);
    return true;
  }

  /** Note [announcements] in native/dist/tcp-fast.h: the error of a peer's differing call, having failed the group, or undefined. */
  private announce(req: OpRequest, seq: number): Error | undefined {
    const { op, reduce, root, count } = this.call(req);
    const failure = this.addon.fastAnnounce(this.links.fds, this.rank, this.worldSize, seq, op, reduce, root, count, req.timeoutMs ?? this.options.timeoutMs);
    if (failure === null) return undefined;
    const err = this.errorOf(req, seq, req.timeoutMs ?? this.options.timeoutMs, failure);
    this.fail(err);
    return err;
  }

  /** A collective's header fields (Note [fast link frames]), as describeRequest describes it. */
  private call(req: OpRequest): { op: number; reduce: number; root: number; count: number } {
    switch (req.op) {
      case "allReduce":
        // root: the algorithm, so ranks whose size thresholds differ fail with a mismatch (Note [all-reduce in halves]).
        return { op: OP_CODE.allReduce!, reduce: REDUCE_CODE[req.reduceOp], root: this.inHalves(req) ? HALVES_ALGORITHM : 0, count: req.buffer.length };
      case "reduceScatter":
        return { op: OP_CODE.reduceScatter!, reduce: REDUCE_CODE[req.reduceOp], root: 0, count: req.input.length };
      case "allGather":
        return { op: OP_CODE.allGather!, reduce: 0, root: 0, count: req.input.length };
      case "broadcast":
        return { op: OP_CODE.broadcast!, reduce: 0, root: req.root, count: req.buffer.length };
      default:
        return { op: OP_CODE.barrier!, reduce: 0, root: 0, count: 0 };
    }
  }

  private settled(req: OpRequest, seq: number, waitedMs?: WaitsOut): Promise<OpResult> {
    try {
      this.runInline(req, seq, waitedMs);
      return DONE;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Why `req` may not start, or undefined. */
  private refusal(req: OpRequest): Error | undefined {
    if (this.closed) return new Error(`${OP_DISPLAY_NAMES[req.op]}: the process group was destroyed`);
    const broken = this.broken ?? this.inner.failure();
    if (!broken) return undefined;
    // Peers that reached this operation would otherwise wait for us until their deadline (as the engine does).
    if (broken instanceof CollectiveError) this.inner.reportFailure(broken);
    const why = `${OP_DISPLAY_NAMES[req.op]} not started: the group failed earlier and must be re-formed (${broken.message})`;
    return broken instanceof CollectiveError ? withMessage(broken, why) : new Error(why);
  }

  /** Runs a fast operation on this thread; throws its error, having failed the group. */
  private runInline(req: OpRequest, seq: number, waitedMs?: WaitsOut, span?: OpSpan): void {
    const refused = this.refusal(req);
    if (refused) throw refused;
    validateRequest(req, this.rank, this.worldSize);
    const timeoutMs = req.timeoutMs ?? this.options.timeoutMs;
    const buffer = req.op === "allReduce" ? req.buffer : null;
    const count = buffer?.length ?? 0;
    if (this.scratch.length < count) this.scratch = new Float32Array(Math.max(count, 2 * this.scratch.length));
    const { op, reduce } = this.call(req);
    const w = this.worldSize;
    const waits = this.callWaits;
    const failure = this.addon.fastAllReduce(this.links.fds, this.rank, w, this.inner.failedFlag, seq, op, reduce, buffer, count, count > 0 ? this.scratch : null, timeoutMs, this.options.spinUs, waits);
    if (span !== undefined) {
      span[0] = waits[w]!;
      span[1] = waits[w + 1]!;
    }
    if (failure !== null) {
      if (failure.status === "peerLost") this.awaitVerdict();
      const err = this.errorOf(req, seq, timeoutMs, failure);
      this.fail(err);
      throw err;
    }
    const bytes = this.messages * (HEADER_BYTES + 4 * count);
    this.sentBytes += bytes;
    this.receivedBytes += bytes;
    if (waitedMs?.length === w) for (let r = 0; r < w; r++) waitedMs[r] = waits[r]!;
  }

  /** An all-reduce in halves (Note [all-reduce in halves] in native/dist/tcp-fast.h); rejects with its error, having failed the group. */
  private async runInHalves(req: Extract<OpRequest, { op: "allReduce" }>, seq: number, waitedMs?: WaitsOut): Promise<OpResult> {
    const refused = this.refusal(req);
    if (refused) throw refused;
    validateRequest(req, this.rank, this.worldSize);
    const timeoutMs = req.timeoutMs ?? this.options.timeoutMs;
    const count = req.buffer.length;
    const half = count - Math.floor(count / 2);
    if (this.halvesScratch.length < half) this.halvesScratch = new Float32Array(half);
    const waits = waitedMs?.length === this.worldSize ? waitedMs : null;
    const failure = await this.addon.fastAllReduceHalves(this.links.fds, this.rank, this.worldSize, this.inner.failedFlag, seq, REDUCE_CODE[req.reduceOp], req.buffer, count, this.halvesScratch, timeoutMs, this.options.spinUs, waits);
    if (failure !== null) {
      if (failure.status === "peerLost") this.awaitVerdict();
      const err = this.errorOf(req, seq, timeoutMs, failure);
      this.fail(err);
      throw err;
    }
    // Each way: a header, then the whole buffer (the peer's half, then our reduced one).
    this.sentBytes += HEADER_BYTES + 4 * count;
    this.receivedBytes += HEADER_BYTES + 4 * count;
    return undefined;
  }

  /**
   * A fast link closed. Its peer may have died, or it may have failed this operation for a
   * reason it sent ahead on the comm thread's links (an Abort frame naming a rank lost elsewhere)
   * and then exited: that reason, not "the peer went away", is the news. So wait a moment for the
   * comm thread to hear it (Note [the failure in shared memory]).
   */
  private awaitVerdict(): void {
    const flag = this.inner.failedFlag;
    const until = performance.now() + VERDICT_WAIT_MS;
    for (let left = VERDICT_WAIT_MS; Atomics.load(flag, 0) !== 1 && left > 0; left = until - performance.now()) {
      Atomics.wait(flag, 0, Atomics.load(flag, 0), Math.min(left, 5));
    }
  }

  /**
   * The group failed here: the comm thread fails it too and tells every peer, with this error
   * (so a peer waiting on this rank learns what happened, not that this rank went away). The
   * links stay open: a rank that closed them would be named lost by every peer waiting on it.
   */
  private fail(err: Error): void {
    if (this.broken) return;
    this.broken = err;
    if (err instanceof CollectiveError && err !== this.inner.failure()) this.inner.reportFailure(err);
  }

  /**
   * The comm thread's error as this operation's: its own label, when it had none running, gives
   * way to this operation's; a peer's report ("rank 2 reported: ...") names its operation itself.
   */
  private relabel(cause: CollectiveError, label: string): CollectiveError {
    const idle = `${this.groupText}: `;
    return cause.message.startsWith(idle) ? withMessage(cause, `${label}: ${cause.message.slice(idle.length)}`) : cause;
  }

  /** The group in messages, as the engine words it when no operation runs (Note [global rank names]). */
  private get groupText(): string {
    const naming = this.options.naming;
    return naming ? `group [${naming.globalRanks.join(", ")}]` : "the process group";
  }

  private name(r: number): number {
    return this.options.naming?.globalRanks[r] ?? r;
  }

  private errorOf(req: OpRequest, seq: number, timeoutMs: number, f: FastFailure): Error {
    const display = OP_DISPLAY_NAMES[req.op];
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
      case "peerLost": {
        const told = Atomics.load(this.inner.failedFlag, 0) === 1 ? this.inner.failure() : undefined;
        if (told) return this.relabel(told, label);
        return new PeerLostError(`${label}: lost the connection to ${ranksText(ranks)} (its link closed: its process exited or destroyed the group); check whether it crashed, then re-form the group`, details);
      }
      case "mismatch": {
        const c = this.call(req);
        const mine = this.descriptor(c.op, c.reduce, c.root, c.count);
        const theirs = this.descriptor(f.theirs.op, f.theirs.reduce, f.theirs.root, f.theirs.count);
        const algorithms = !f.theirs.announce && c.op === f.theirs.op && c.count === f.theirs.count && c.root !== f.theirs.root;
        const how = (root: number): string => (root === HALVES_ALGORITHM ? "in halves" : "by recursive doubling");
        const msg = f.theirs.seq !== seq
          ? `${label}: rank ${ranks[0]} is at collective #${f.theirs.seq}; every rank must issue the same collectives in the same order`
          : algorithms
          ? `${label}: rank ${this.name(this.rank)} ran it ${how(c.root)}, rank ${ranks[0]} ${how(f.theirs.root)}, so their fastMessageBytes differ; every rank must use the same`
          : describeMismatch(seq, mine, this.name(this.rank), theirs, ranks[0]!, scope) ??
            `${label}: rank ${this.name(this.rank)} ran it on its ${f.theirs.announce ? "fast links" : "comm thread"}, rank ${ranks[0]} on its ${f.theirs.announce ? "comm thread" : "fast links"}, so their wire options differ; every rank must pass the same wire option`;
        return new CollectiveMismatchError(msg, { op: display, seq, ranks: [this.name(this.rank), ranks[0]!] });
      }
      case "failed": {
        // What the comm thread saw, under this operation's label in place of its own (it had none running).
        const cause = this.inner.failure();
        if (!cause) return new CollectiveError(`${label}: the group failed while this rank waited (a peer was lost or aborted it); build a new group to go on`, details);
        return this.relabel(cause, label);
      }
      default:
        return new CollectiveError(`${label}: ${ranksText(ranks)} sent bytes that are not a fast-link frame; the link is closed`, details);
    }
  }

  /** A header's call in the comm thread's terms, so both paths word a mismatch the same way. */
  private descriptor(op: number, reduce: number, root: number, count: number): OpDescriptor {
    return { op: OP_OF_CODE[op] ?? "barrier", count, root, reduceOp: REDUCE_OF_CODE[reduce] ?? "none", wire: "f32", algorithm: "none" };
  }

  abort(reason: string): void {
    if (this.closed) return;
    this.inner.abort(reason);
    this.broken ??= new GroupAbortedError(`rank ${this.name(this.rank)} aborted ${this.groupText}: ${reason}; build a new group to go on`, { op: "none", seq: this.seq, ranks: [] });
  }

  failure(): CollectiveError | undefined {
    return this.broken instanceof CollectiveError ? this.broken : this.inner.failure();
  }

  /** The fast links' bytes (headers and payloads, counted from the algorithm's shape) plus the comm thread's. */
  traffic(): Traffic {
    const tcp = this.inner.traffic();
    return { sent: this.sentBytes + tcp.sent, received: this.receivedBytes + tcp.received };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // An all-reduce in halves still running on the links stops (the comm thread's failure flag) before they close.
    if (!this.chain.idle) this.inner.abort("the group was destroyed while a collective was running");
    // The comm thread first: an Abort frame it still has to send reaches the peers before they see these links close.
    await this.inner.close();
    await this.chain.drained();
    this.links.close();
  }
}
