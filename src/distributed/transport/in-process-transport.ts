// All ranks in one process, for tests: frames are copied at send time (so the sender may reuse its
// buffer, as after a kernel write) and delivered on a later turn of the event loop, in order per
// pair, through the same FrameSink calls a socket reader makes. A rank can be "killed" to test
// how its peers notice.
import type { FrameHeader } from "../wire/frame.js";
import type { Transport, TransportHandlers } from "./transport.js";

/** The shared medium of one in-process group. */
export class InProcessHub {
  private readonly handlers: (TransportHandlers | undefined)[];
  private readonly dead = new Set<number>();

  constructor(readonly worldSize: number) {
    this.handlers = new Array(worldSize).fill(undefined);
  }

  /** The transport of `rank`, delivering to `handlers`. */
  join(rank: number, handlers: TransportHandlers): InProcessTransport {
    this.handlers[rank] = handlers;
    return new InProcessTransport(this, rank);
  }

  deliver(from: number, to: number, header: FrameHeader, payload: Uint8Array): void {
    setImmediate(() => {
      if (this.dead.has(from) || this.dead.has(to)) return;
      const sink = this.handlers[to]!.sinkFor(from);
      // No socket to pause here: a frame with no place yet is handed over as it is and kept
      // by the mailbox until its receive is posted.
      const lent = sink.destinationFor(header);
      const dest = lent instanceof Uint8Array ? lent : payload;
      if (dest !== payload) dest.set(payload);
      sink.onFrame(header, dest);
    });
  }

  /** Simulates the death of `rank`: its links go silent and every other rank is told. */
  kill(rank: number, reason = "killed"): void {
    if (this.dead.has(rank)) return;
    this.dead.add(rank);
    for (let r = 0; r < this.worldSize; r++) {
      if (r !== rank && !this.dead.has(r)) this.handlers[r]!.onPeerLost(rank, reason);
    }
  }

  isDead(rank: number): boolean {
    return this.dead.has(rank);
  }
}

export class InProcessTransport implements Transport {
  readonly worldSize: number;

  constructor(
    private readonly hub: InProcessHub,
    readonly rank: number,
  ) {
    this.worldSize = hub.worldSize;
  }

  send(peer: number, header: Omit<FrameHeader, "payloadBytes">, payload?: Uint8Array, onWritten?: (err?: Error | null) => void): void {
    const copy = payload ? payload.slice() : new Uint8Array(0);
    this.hub.deliver(this.rank, peer, { ...header, payloadBytes: copy.length }, copy);
    if (onWritten) queueMicrotask(() => onWritten(this.hub.isDead(peer) ? new Error(`rank ${peer} is dead`) : null));
  }

  batch(fn: () => void): void {
    fn();
  }

  close(): void {
    this.hub.kill(this.rank, "closed");
  }
}
