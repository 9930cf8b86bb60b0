// The collective engine: runs a process group's operations one after another over a Transport.
// It lives on the comm thread (executors/comm-worker.ts) for TCP groups, or on the caller's
// thread for in-process groups; either way it is the same code.
//
// One operation, step by step:
//  1. The next sequence number is taken (collectives share one counter; send/recv count per peer).
//  2. Collectives send an Arrive frame with their descriptor to every peer and check the
//     descriptors already received for this number (Note [collective descriptors]).
//  3. The algorithm posts its receives and sends its first frames; everything after that happens
//     in frame callbacks (ring.ts explains the pipelining).
//  4. The operation completes when all its receives landed, all its sends were handed to the
//     kernel and all peers' descriptors arrived; or it fails at its deadline, on a mismatch, when
//     a peer is lost (its link closed, or it fell silent: transport/link-watch.ts), or when a rank
//     aborts the group.
//
// Note [a failed group stays failed]: after any failure the engine drops every posted receive
// (late frames must not land in user buffers), tells every peer with an Abort frame so that
// ranks still waiting fail at once instead of at their own deadline, and refuses further
// operations with an error of the same kind. Recovery is to build a new group (a new generation)
// at the next step boundary; a half-finished collective cannot be trusted. ProcessGroup.abort
// takes this path on purpose (GroupAbortedError): an elastic job that wants to re-form its group
// fails the current one on every rank at once.
//
// Note [global rank names]: a subgroup (ProcessGroup.newGroup) is a group of its own, whose
// engine numbers its members 0..k-1: frames, sequence numbers, chunk owners and the ranks users
// pass to send/recv are in that numbering. Messages and the `ranks` of errors, though, name the
// job's ranks (the top-level group's), which is what a user reads logs and kills processes by:
// "rank 3 passed 999 floats" means job rank 3 even inside group [1, 3]. The engine is given the
// table (RankNaming) and names ranks through it at each place it words an error, rather than
// having the process group rewrite messages afterwards, which would mean parsing them. A peer's
// Abort arrives already named, since every member has the same table. Labels carry the group
// (" in group [1, 3]") so the two numberings are never mixed up in one message.
import { runAllGather } from "./all-gather.js";
import { runAllReduce } from "./all-reduce.js";
import { runBroadcast } from "./broadcast.js";
import { descriptorAux, descriptorFromAux, describeMismatch, type OpDescriptor } from "./descriptor.js";
import { describeRequest, validateRequest } from "./request.js";
import { OpRun } from "./op-context.js";
import { runReduceScatter } from "./reduce-scatter.js";
import { runRecv, runSend } from "./send-recv.js";
import { runRecvAny } from "./recv-any.js";
import {
  CollectiveError,
  CollectiveMismatchError,
  CollectiveTimeoutError,
  deserializeError,
  FrameError,
  GroupAbortedError,
  PeerLostError,
  ranksText,
  serializeError,
  withMessage,
  type SerializedError,
} from "../base/errors.js";
import { FrameType, frameTypeName, type FrameHeader } from "../wire/frame.js";
import type { FrameSink } from "../wire/frame-reader.js";
import { Mailbox } from "./mailbox.js";
import { OP_DISPLAY_NAMES, type OpRequest, type OpResult, type WaitsOut } from "./ops.js";
import type { PeerLoss, Transport, TransportHandlers } from "../transport/transport.js";
import { checkWireDtype, type WireDtype } from "../compression/wire-dtype.js";

export interface EngineOptions {
  /** Default deadline of every operation. */
  timeoutMs: number;
  /**
   * Most bytes per frame. 1 MiB: per-frame costs (a header, a callback, a wake-up) stay small
   * against the copy, and on loopback between two workers it beat 256 KiB at every size from
   * 1 MiB to 64 MiB (docs/distributed.md, Measurements); a 25 MB bucket is still cut into a
   * dozen segments per chunk on 2 ranks, which keeps the ring pipelined.
   */
  segmentBytes: number;
  /** All-reduces up to this size use recursive doubling, larger ones the ring. */
  smallMessageBytes: number;
  /**
   * Receive staging the ring's reduce-scatter may post ahead. A sender emits a whole step's
   * segments at once; those beyond this window wait in the socket until staging frees up. 16 MiB
   * covers a step of the usual DDP bucket (25 MB) on 2 ranks; allocated once and reused.
   */
  stagingBytes: number;
  /**
   * Element type on the wire of all-reduces and reduce-scatters that do not name one
   * (ReduceOptions.wire; Note [compressed ring] in collectives/ring.ts). Every rank must agree.
   */
  wire: WireDtype;
}

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  timeoutMs: 30_000,
  segmentBytes: 1 << 20,
  smallMessageBytes: 64 << 10,
  stagingBytes: 16 << 20,
  wire: "f32",
};

/** How a subgroup's engine names ranks (Note [global rank names]). */
export interface RankNaming {
  /** Job-wide rank of each member, indexed by this group's rank. */
  globalRanks: readonly number[];
  /** Follows every operation's name in messages, e.g. " in group [1, 3]". */
  scope: string;
}

interface Running {
  run: OpRun;
  /** Undefined for send/recv, which exchange no descriptors. */
  desc: OpDescriptor | undefined;
  request: OpRequest;
  /** performance.now() when this rank started the operation (sent its Arrive frames). */
  startedAt: number;
  /** The caller's waits array (Note [per-peer waits] in ops.ts): ms from startedAt until each peer's Arrive frame came (0: it was here first). */
  waitedMs: Float64Array | undefined;
}

export class CollectiveEngine implements TransportHandlers {
  private transport: Transport | undefined;
  private readonly mailboxes: Mailbox[];
  private readonly options: EngineOptions;
  /** Next collective sequence number (the same on every rank, since all issue the same collectives). */
  private nextSeq = 0;
  /** Per-peer message numbers of send and recv. */
  private readonly p2pSent: number[];
  private readonly p2pReceived: number[];
  /** Descriptors that arrived for collectives this rank has not started yet: seq -> rank -> descriptor. */
  private readonly earlyArrivals = new Map<number, Map<number, OpDescriptor>>();
  private current: Running | undefined;
  private broken: CollectiveError | undefined;
  /** Whether the peers were sent an Abort (at most once). */
  private peersAborted = false;
  /** Whether `broken` is only a peer's link that closed (poison's closedLink). */
  private brokenByClosedLink = false;
  private closed = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly scratchBuffers = new Map<string, Float32Array>();
  /** The source of the last receive-any: the next one starts posting after it (recv-any.ts). */
  private lastAnySource: number;
  /**
   * Called once, when the group fails (Note [a failed group stays failed]): the comm thread tells
   * the main thread, where a shared-memory executor then refuses its collectives too.
   */
  onFailed: (err: CollectiveError, closedLink: boolean) => void = () => {};

  constructor(
    readonly rank: number,
    readonly worldSize: number,
    options: Partial<EngineOptions> = {},
    /** For a subgroup: job-wide rank names (Note [global rank names]); default: this group's numbering. */
    private readonly naming?: RankNaming,
  ) {
    this.lastAnySource = rank;
    this.options = { ...DEFAULT_ENGINE_OPTIONS, ...options };
    if (this.options.segmentBytes < 4 || this.options.segmentBytes % 4 !== 0) {
      throw new RangeError(`segmentBytes must be a positive multiple of 4, got ${this.options.segmentBytes}`);
    }
    checkWireDtype(this.options.wire, "wire");
    this.mailboxes = Array.from({ length: worldSize }, () => new Mailbox());
    this.p2pSent = new Array<number>(worldSize).fill(0);
    this.p2pReceived = new Array<number>(worldSize).fill(0);
  }

  /** The error the group failed with (Note [a failed group stays failed]), or undefined while it works. */
  get failure(): CollectiveError | undefined {
    return this.broken;
  }

  /** Connects the engine to its transport (created with this engine as its handlers). */
  attach(transport: Transport): void {
    this.transport = transport;
  }

  /** How `r` is named in messages and error fields (Note [global rank names]). */
  private name(r: number): number {
    return this.naming?.globalRanks[r] ?? r;
  }

  private get scope(): string {
    return this.naming?.scope ?? "";
  }

  // ---- TransportHandlers -------------------------------------------------------------------

  sinkFor(peer: number): FrameSink {
    const mailbox = this.mailboxes[peer]!;
    return {
      destinationFor: (h) => {
        if (this.broken) return undefined; // drain and drop
        return h.type === FrameType.Data || h.type === FrameType.P2P ? mailbox.destinationFor(h) : undefined;
      },
      onFrame: (h, payload) => this.onFrame(peer, h, payload),
      attachResume: (resume) => (mailbox.onPost = resume),
    };
  }

  onPeerLost(peer: number, reason: string, how: PeerLoss = "closed"): void {
    if (this.closed || this.broken) return;
    const cur = this.current;
    const fix = how === "silent"
      ? "check that its process is running (not stopped by SIGSTOP or paused in a debugger) and that this host can reach it, then re-form the group"
      : "check whether it crashed, then re-form the group";
    const err = new PeerLostError(
      `${cur ? cur.run.label : this.groupText}: lost the connection to rank ${this.name(peer)} (${reason}); ${fix}`,
      { op: cur ? OP_DISPLAY_NAMES[cur.request.op] : "none", seq: cur ? cur.run.seq : this.nextSeq, ranks: [this.name(peer)] },
    );
    // Note [a lost peer is news only to whom it fails]
    // A peer that finished its last operation and destroyed its group closes its links; ranks
    // that still run that operation may have all they need from it. So the loss fails only an
    // operation that still waits on the peer, and only then are the others told (Abort frames,
    // so that ranks waiting on us fail now rather than at their deadline). Otherwise the group is
    // marked failed here alone: every rank has its own link to the lost peer and decides for
    // itself, and a rank that is still finishing the last operation must not be aborted by one
    // that finished it first. A silent peer (a stopped process) is also waited on by writes it
    // does not read; a closed one never is: a write to a closed link fails on its own, and a peer
    // that finished has read all we wrote.
    const run = cur?.run;
    const needsPeer = run !== undefined &&
      (run.waitingOn.has(peer) || run.arrivalsMissing.has(peer) || (how === "silent" && run.writingTo.has(peer)));
    if (run && !needsPeer) {
      run.done.then(
        () => this.poison(err, false, how === "closed"),
        () => undefined,
      );
      return;
    }
    this.poison(err, cur !== undefined, how === "closed");
  }

  /** This group in messages when no operation runs: "the process group", or "group [1, 3]" (Note [global rank names]). */
  private get groupText(): string {
    return this.naming ? `group [${this.naming.globalRanks.join(", ")}]` : "the process group";
  }

  private onFrame(peer: number, h: FrameHeader, payload: Uint8Array): void {
    switch (h.type) {
      case FrameType.Data:
      case FrameType.P2P:
        if (!this.broken) this.mailboxes[peer]!.deliver(h, payload);
        return;
      case FrameType.Arrive:
        return this.onArrive(peer, h.seq, descriptorFromAux(h));
      case FrameType.Abort:
        return this.onAbort(peer, payload);
      default:
        throw new FrameError(`unexpected ${frameTypeName(h.type)} frame from rank ${this.name(peer)} on a peer link`);
    }
  }

  private onArrive(peer: number, seq: number, desc: OpDescriptor): void {
    const cur = this.current;
    if (cur?.desc && cur.run.seq === seq) return this.checkArrival(cur, peer, desc);
    if (seq < this.nextSeq) return; // an operation that already ended (failed) here
    let m = this.earlyArrivals.get(seq);
    if (!m) this.earlyArrivals.set(seq, (m = new Map()));
    m.set(peer, desc);
  }

  private checkArrival(cur: Running, peer: number, desc: OpDescriptor): void {
    const [me, them] = [this.name(this.rank), this.name(peer)];
    const msg = describeMismatch(cur.run.seq, cur.desc!, me, desc, them, this.scope);
    if (msg === undefined) {
      if (cur.waitedMs) cur.waitedMs[peer] = performance.now() - cur.startedAt;
      return cur.run.arrived(peer);
    }
    cur.run.fail(new CollectiveMismatchError(msg, { op: OP_DISPLAY_NAMES[cur.request.op], seq: cur.run.seq, ranks: [me, them] }));
  }

  private onAbort(peer: number, payload: Uint8Array): void {
    let s: SerializedError;
    try {
      s = JSON.parse(Buffer.from(payload).toString("utf8")) as SerializedError;
    } catch {
      throw new FrameError(`rank ${this.name(peer)} sent an Abort frame that is not JSON`);
    }
    if (s.kind === "GroupAbortedError") {
      // It names the aborting rank already; what failed here is our own operation.
      const cur = this.current;
      const details = { op: cur ? OP_DISPLAY_NAMES[cur.request.op] : "none", seq: cur ? cur.run.seq : this.nextSeq, ranks: [] };
      return this.poison(new GroupAbortedError(cur ? `${cur.run.label}: ${s.message}` : s.message, details), false);
    }
    const err = deserializeError({ ...s, message: `rank ${this.name(peer)} reported: ${s.message}` });
    this.poison(
      err instanceof CollectiveError ? err : new CollectiveError(err.message, { op: "unknown", seq: -1, ranks: [this.name(peer)] }),
      false,
    );
  }

  /**
   * Fails the running operation and every later one here, and tells every peer with an Abort
   * frame, so that theirs fail too (ProcessGroup.abort). On a group that failed already, later
   * operations go on reporting that first failure, the cause; peers not yet told learn of the abort.
   */
  abort(reason: string): void {
    if (this.closed) return;
    const cur = this.current;
    const what = `rank ${this.name(this.rank)} aborted ${this.groupText}: ${reason}; build a new group to go on`;
    const details = { op: cur ? OP_DISPLAY_NAMES[cur.request.op] : "none", seq: cur ? cur.run.seq : this.nextSeq, ranks: [] };
    // Peers get it without our operation's label: each puts its own in front (onAbort).
    const told = new GroupAbortedError(what, details);
    if (!this.broken) this.poison(new GroupAbortedError(cur ? `${cur.run.label}: ${what}` : what, details), false);
    this.abortPeers(told);
  }

  /**
   * Fails the group with `err`, which a collective run elsewhere found (the calling thread's fast
   * path, executors/fast-executor.ts): later operations here are refused with it, and every peer
   * is told with an Abort frame carrying it, as when an operation here fails.
   */
  fail(err: CollectiveError): void {
    if (this.closed) return;
    this.poison(err, true);
    // Failed already by a closed link alone, the peers were not told: they are now.
    this.abortPeers(err);
  }

  /**
   * Note [a failed group stays failed]. `closedLink`: the failure is a peer's link that closed,
   * which a collective that needs that peer sees on any path by itself (onFailed's listeners may
   * leave it alone, Note [a lost peer is news only to whom it fails]).
   */
  private poison(err: CollectiveError, tellPeers: boolean, closedLink = false): void {
    if (this.broken) {
      // A failure worse than a closed link, after one: the listeners learn it (the first failure stays the cause here).
      if (this.brokenByClosedLink && !closedLink) {
        this.brokenByClosedLink = false;
        this.onFailed(err, false);
      }
      return;
    }
    this.broken = err;
    this.brokenByClosedLink = closedLink;
    this.onFailed(err, closedLink);
    for (const m of this.mailboxes) {
      m.clear();
      m.onPost(); // readers holding a frame resume, to drain and drop what is left
    }
    if (tellPeers) this.abortPeers(err);
    this.current?.run.fail(err);
  }

  /** Sends every peer an Abort frame carrying `err`, once (Note [a lost peer is news only to whom it fails]). */
  private abortPeers(err: CollectiveError): void {
    if (this.peersAborted || !this.transport) return;
    this.peersAborted = true;
    const payload = Buffer.from(JSON.stringify(serializeError(err)), "utf8").subarray(0, 8 << 10);
    for (let p = 0; p < this.worldSize; p++) {
      if (p === this.rank) continue;
      try {
        this.transport.send(p, { type: FrameType.Abort, flags: 0, seq: err.seq >>> 0, tag: 0, aux0: 0, aux1: 0, aux2: 0 }, payload);
      } catch {
        // best effort: the link may already be gone
      }
    }
  }

  // ---- running operations ------------------------------------------------------------------

  /**
   * Queues an operation; operations run one at a time, in the order they were submitted.
   * `skipSeqs`: collective numbers used elsewhere since the last collective here (the calling
   * thread's fast path, Note [two paths, one order] in executors/fast-executor.ts), so that a
   * collective's number is its place among all of the group's.
   */
  run(request: OpRequest, waitedMs?: WaitsOut, skipSeqs = 0): Promise<OpResult> {
    const p = this.queue.then(() => this.execute(request, waitedMs, skipSeqs));
    this.queue = p.catch(() => undefined);
    return p;
  }

  private scratch = (slot: string, elems: number): Float32Array => {
    let b = this.scratchBuffers.get(slot);
    if (!b || b.length < elems) {
      b = new Float32Array(elems);
      this.scratchBuffers.set(slot, b);
    }
    return b;
  };

  private async execute(req: OpRequest, waitsOut: WaitsOut, skipSeqs: number): Promise<OpResult> {
    if (this.closed) throw new Error(`${OP_DISPLAY_NAMES[req.op]}: the process group was destroyed`);
    const display = OP_DISPLAY_NAMES[req.op];
    if (this.broken) {
      // Peers that reached this operation would otherwise wait for us until their deadline.
      this.abortPeers(this.broken);
      throw withMessage(this.broken, `${display} not started: the group failed earlier and must be re-formed (${this.broken.message})`);
    }
    validateRequest(req, this.rank, this.worldSize);
    const transport = this.transport!;
    const desc = describeRequest(req, this.worldSize, this.options.smallMessageBytes, this.options.wire);
    const isSend = req.op === "send";
    const isAny = req.op === "recvAny";
    const isP2P = isSend || req.op === "recv" || isAny;
    const peer = req.op === "send" || req.op === "recv" ? req.peer : -1;
    // A receive-any has no message number until a peer's message is claimed (recv-any.ts).
    if (!isP2P) this.nextSeq += skipSeqs;
    const seq = !isP2P ? this.nextSeq++ : isAny ? -1 : isSend ? this.p2pSent[peer]!++ : this.p2pReceived[peer]!++;
    const label = isAny
      ? `${display} (tag ${req.tag}) from any of ${ranksText(this.anyOrder().map((p) => this.name(p)).sort((a, b) => a - b))}${this.scope}`
      : isP2P ? `${display} #${seq} ${isSend ? "to" : "from"} rank ${this.name(peer)}${this.scope}` : `${display} #${seq}${this.scope}`;
    const others = new Set<number>();
    if (!isP2P) for (let p = 0; p < this.worldSize; p++) if (p !== this.rank) others.add(p);
    const run = new OpRun({
      rank: this.rank,
      worldSize: this.worldSize,
      seq,
      label,
      opName: display,
      segmentElems: this.options.segmentBytes / 4,
      stagingElems: Math.floor(this.options.stagingBytes / 4),
      frameType: isP2P ? FrameType.P2P : FrameType.Data,
      aux: isP2P ? { aux0: req.tag, aux1: req.buffer.length, aux2: 0 } : { aux0: 0, aux1: 0, aux2: 0 },
      transport,
      mailboxes: this.mailboxes,
      scratch: this.scratch,
      awaitArrivals: others,
      ...(this.naming ? { rankNames: this.naming.globalRanks } : {}),
    });
    const waitedMs = desc && waitsOut?.length === this.worldSize ? waitsOut.fill(0) : undefined;
    const running: Running = { run, desc, request: req, startedAt: performance.now(), waitedMs };
    this.current = running;
    run.onFail = (err) => this.poison(err, true);
    const timeoutMs = req.timeoutMs ?? this.options.timeoutMs;
    const timer = setTimeout(() => run.fail(this.timeoutError(running, timeoutMs)), timeoutMs);
    let finalize: (() => OpResult) | undefined;
    try {
      transport.batch(() => {
        if (desc) {
          const aux = descriptorAux(desc);
          for (const p of others) transport.send(p, { type: FrameType.Arrive, flags: 0, seq, tag: 0, ...aux });
          const early = this.earlyArrivals.get(seq);
          this.earlyArrivals.delete(seq);
          // Peers already here were not waited for: their wait is set to 0 after the check.
          for (const [p, d] of early ?? []) this.checkArrival(running, p, d);
          if (waitedMs) for (const p of early?.keys() ?? []) waitedMs[p] = 0;
        }
        finalize = this.dispatch(run, req, desc);
      });
      run.start();
      await run.done;
      return finalize?.();
    } catch (err) {
      if (!(err instanceof CollectiveError)) run.fail(new CollectiveError(`${run.label}: ${(err as Error).message}`, { op: display, seq: run.seq, ranks: [] }));
      throw err;
    } finally {
      clearTimeout(timer);
      this.current = undefined;
    }
  }

  /** The peers a receive-any posts to, in order: starting after the last source (recv-any.ts). */
  private anyOrder(): number[] {
    const order: number[] = [];
    for (let i = 1; i <= this.worldSize; i++) {
      const p = (this.lastAnySource + i) % this.worldSize;
      if (p !== this.rank) order.push(p);
    }
    return order;
  }

  /** Starts the algorithm; returns what to do once it has completed (and its result), if anything. */
  private dispatch(run: OpRun, req: OpRequest, desc: OpDescriptor | undefined): (() => OpResult) | undefined {
    switch (req.op) {
      case "allReduce":
        runAllReduce(run, req.buffer, desc!.algorithm, req.reduceOp === "avg", desc!.wire);
        return undefined;
      case "reduceScatter":
        return runReduceScatter(run, req.input, req.output, req.reduceOp === "avg", desc!.wire);
      case "allGather":
        runAllGather(run, req.input, req.output);
        return undefined;
      case "broadcast":
        runBroadcast(run, req.buffer, req.root);
        return undefined;
      case "barrier":
        return undefined;
      case "send":
        runSend(run, req.buffer, req.peer);
        return undefined;
      case "recv":
        runRecv(run, req.buffer, req.peer, req.tag);
        return undefined;
      case "recvAny": {
        const source = runRecvAny(run, req.buffer, req.tag, this.anyOrder(), (p) => this.p2pReceived[p]!, (p) => {
          run.label = `${OP_DISPLAY_NAMES.recvAny} #${this.p2pReceived[p]} from rank ${this.name(p)}${this.scope}`;
          this.p2pReceived[p]!++;
          this.lastAnySource = p;
        });
        return () => ({ source: source() });
      }
    }
  }

  private timeoutError(cur: Running, timeoutMs: number): CollectiveTimeoutError {
    const { run, request } = cur;
    const op = OP_DISPLAY_NAMES[request.op];
    const never = [...run.arrivalsMissing].map((r) => this.name(r)).sort((a, b) => a - b);
    if (never.length > 0) {
      return new CollectiveTimeoutError(
        `${run.label} did not finish within ${timeoutMs} ms: ${ranksText(never)} never arrived; ` +
          `check that they are alive and issue the same collectives in the same order, or raise timeoutMs`,
        { op, seq: run.seq, ranks: never },
      );
    }
    const silent = [...run.waitingOn.keys()].map((r) => this.name(r)).sort((a, b) => a - b);
    return new CollectiveTimeoutError(
      `${run.label} did not finish within ${timeoutMs} ms: ` +
        (silent.length > 0 ? `no data came from ${ranksText(silent)}` : `sends to peers did not complete`) +
        `; check that they are alive and not stopped, or raise timeoutMs`,
      { op, seq: run.seq, ranks: silent },
    );
  }

  /** Fails the running operation and refuses new ones; the transport is closed by its owner. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.current?.run.fail(
      new CollectiveError(`${this.current.run.label}: the process group was destroyed while it ran`, {
        op: OP_DISPLAY_NAMES[this.current.request.op],
        seq: this.current.run.seq,
        ranks: [],
      }),
    );
    this.transport?.close();
  }
}
