// All ranks in one process, for tests: frames are copied at send time (so the sender may reuse its
// buffer, as after a kernel write) and delivered on a later turn of the event loop, in order per
// pair, through the same FrameSink calls a socket reader makes. A rank can be "killed" to test
// how its peers notice, or "frozen": its frames stop both ways, writes to it never complete (as a
// stopped process's socket buffers fill), and its peers are told at once that it fell silent, as
// TCP groups tell them after the silence limit (transport/link-watch.ts).
//
// A subgroup's hub (derive) is made by whichever member asks first, so its other members join
// later: frames sent to a member that has not joined yet wait for it, in order, and a member
// that joins after a peer died is told at once. Killing a rank kills it in every hub derived from
// this one too, as the death of a process closes all its groups' links.
//
// Traffic (what ProcessGroup.traffic() reports) is counted as if the frames went over TCP: each
// frame is FRAME_HEADER_BYTES of header plus its payload, counted as sent when a rank hands it to
// the hub and as received when the hub hands it to the receiver's sink (so frames to a dead rank
// are sent, never received).
import { FRAME_HEADER_BYTES, type FrameHeader } from "../wire/frame.js";
import type { Traffic } from "../base/traffic-counter.js";
import type { PeerLoss, Transport, TransportHandlers } from "./transport.js";

interface Waiting {
  from: number;
  header: FrameHeader;
  payload: Uint8Array;
}

/** The shared medium of one in-process group. */
export class InProcessHub {
  private readonly handlers: (TransportHandlers | undefined)[];
  private readonly transports: (InProcessTransport | undefined)[];
  private readonly dead = new Map<number, string>();
  /** Frozen ranks (freeze) and what their peers were told. */
  private readonly frozen = new Map<number, string>();
  /** Frames for ranks that have not joined yet, in arrival order. */
  private readonly early = new Map<number, Waiting[]>();
  /** Hubs of subgroups: `members[i]` is this hub's rank of the child's rank i. */
  private readonly children: { hub: InProcessHub; members: readonly number[] }[] = [];

  constructor(readonly worldSize: number) {
    this.handlers = new Array(worldSize).fill(undefined);
    this.transports = new Array(worldSize).fill(undefined);
  }

  /** The transport of `rank`, delivering to `handlers`. */
  join(rank: number, handlers: TransportHandlers): InProcessTransport {
    const transport = new InProcessTransport(this, rank);
    this.handlers[rank] = handlers;
    this.transports[rank] = transport;
    // Delivered now, before any frame sent later (those go through setImmediate), so the order
    // per pair holds.
    const waiting = this.early.get(rank) ?? [];
    this.early.delete(rank);
    for (const w of waiting) if (!this.dead.has(w.from)) this.hand(rank, handlers, w.from, w.header, w.payload);
    for (const [r, reason] of this.dead) if (r !== rank) setImmediate(() => handlers.onPeerLost(r, reason, "closed"));
    for (const [r, reason] of this.frozen) if (r !== rank) setImmediate(() => handlers.onPeerLost(r, reason, "silent"));
    return transport;
  }

  /** A hub for the subgroup of `members` (ranks of this hub, in the subgroup's order). */
  derive(members: readonly number[]): InProcessHub {
    const hub = new InProcessHub(members.length);
    this.children.push({ hub, members });
    members.forEach((m, i) => {
      const reason = this.dead.get(m);
      if (reason !== undefined) hub.kill(i, reason);
      const silence = this.frozen.get(m);
      if (silence !== undefined) hub.freeze(i, silence);
    });
    return hub;
  }

  deliver(from: number, to: number, header: FrameHeader, payload: Uint8Array): void {
    setImmediate(() => {
      if (this.isGone(from) || this.isGone(to)) return;
      const handlers = this.handlers[to];
      if (!handlers) {
        const list = this.early.get(to) ?? [];
        list.push({ from, header, payload });
        this.early.set(to, list);
        return;
      }
      this.hand(to, handlers, from, header, payload);
    });
  }

  private hand(to: number, handlers: TransportHandlers, from: number, header: FrameHeader, payload: Uint8Array): void {
    this.transports[to]!.receivedBytes += FRAME_HEADER_BYTES + payload.length;
    const sink = handlers.sinkFor(from);
    // No socket to pause here: a frame with no place yet is handed over as it is and kept
    // by the mailbox until its receive is posted.
    const lent = sink.destinationFor(header);
    const dest = lent instanceof Uint8Array ? lent : payload;
    if (dest !== payload) dest.set(payload);
    sink.onFrame(header, dest);
  }

  /** Simulates the death of `rank`: its links go silent and every other rank is told. */
  kill(rank: number, reason = "killed"): void {
    if (this.dead.has(rank)) return;
    this.dead.set(rank, reason);
    this.tellOthers(rank, reason, "closed");
    for (const { hub, members } of this.children) {
      const i = members.indexOf(rank);
      if (i >= 0) hub.kill(i, reason);
    }
  }

  /**
   * Simulates SIGSTOP of `rank`: nothing more moves to or from it, and the ranks in `noticedBy`
   * (default: every other one) are told it fell silent. Over TCP every peer notices, each at its
   * own time; naming only some lets a test see what the others learn from them (Abort frames).
   */
  freeze(rank: number, reason = "silent for 1000 ms: no frames or heartbeats (frozen in a test)", noticedBy?: readonly number[]): void {
    if (this.frozen.has(rank) || this.dead.has(rank)) return;
    this.frozen.set(rank, reason);
    this.tellOthers(rank, reason, "silent", noticedBy);
    for (const { hub, members } of this.children) {
      const i = members.indexOf(rank);
      if (i >= 0) hub.freeze(i, reason, noticedBy?.flatMap((r) => (members.includes(r) ? [members.indexOf(r)] : [])));
    }
  }

  private tellOthers(rank: number, reason: string, how: PeerLoss, only?: readonly number[]): void {
    for (let r = 0; r < this.worldSize; r++) {
      if (r !== rank && !this.isGone(r) && (only?.includes(r) ?? true)) this.handlers[r]?.onPeerLost(rank, reason, how);
    }
  }

  isDead(rank: number): boolean {
    return this.dead.has(rank);
  }

  isFrozen(rank: number): boolean {
    return this.frozen.has(rank);
  }

  private isGone(rank: number): boolean {
    return this.dead.has(rank) || this.frozen.has(rank);
  }
}

export class InProcessTransport implements Transport {
  readonly worldSize: number;
  /** Header and payload bytes of the frames this rank handed to the hub, and of those the hub handed to it. */
  sentBytes = 0;
  receivedBytes = 0;

  constructor(
    private readonly hub: InProcessHub,
    readonly rank: number,
  ) {
    this.worldSize = hub.worldSize;
  }

  send(peer: number, header: Omit<FrameHeader, "payloadBytes">, payload?: Uint8Array, onWritten?: (err?: Error | null) => void): void {
    const copy = payload ? payload.slice() : new Uint8Array(0);
    this.sentBytes += FRAME_HEADER_BYTES + copy.length;
    this.hub.deliver(this.rank, peer, { ...header, payloadBytes: copy.length }, copy);
    // A write to a frozen rank never completes: its socket buffers would have filled.
    if (onWritten && !this.hub.isFrozen(peer)) queueMicrotask(() => onWritten(this.hub.isDead(peer) ? new Error("the receiving rank is dead") : null));
  }

  batch(fn: () => void): void {
    fn();
  }

  traffic(): Traffic {
    return { sent: this.sentBytes, received: this.receivedBytes };
  }

  close(): void {
    this.hub.kill(this.rank, "closed");
  }
}
