// Heartbeats and silence on a TCP group's links, so that a rank that stops (SIGSTOP, a debugger, a
// hung host) or whose network is cut is named by every peer within about a second, rather than a
// live neighbour being blamed at the deadline because it, too, stopped sending while it waited.
//
// TCP says nothing about a stopped peer: its kernel still acknowledges bytes until the buffers
// fill, and a cut link is retransmitted for minutes. Only time says something, and only if the
// peer talks while it has nothing to say. So every `intervalMs` the comm thread sends a Heartbeat
// on each link it writes to, and each link it reads from must show a byte at least every
// `silenceMs`; TorchFT's defaults are the same (100 ms and 1 s). Heartbeats come from the comm
// thread, whose event loop a long kernel on the main thread does not stop, so a rank that
// computes for minutes between collectives keeps its place.
//
// Note [silence is counted while we listen]: "no byte for silenceMs" convicts the peer only for
// time during which we could have heard it. Two kinds of time are not that, and are not counted:
//  - a held link (Note [hold, don't buffer] in wire/frame-reader.ts): we stopped reading it
//    because its next frame has no place yet; its heartbeats wait behind that frame in the socket,
//    so while we hold, the peer counts as heard (had it stopped, we judge it once we read again,
//    and peers that are not holding judge it meanwhile);
//  - our own stalls: when this tick comes late (our thread was busy, or this whole process was
//    stopped and has just been continued), the bytes that came meanwhile sit unread in the kernel,
//    and timers run before I/O callbacks in Node's loop. The lateness is credited to every peer.
import type { FramedConnection } from "../wire/connection.js";
import { FrameType, type FrameHeader } from "../wire/frame.js";

/** How often a link is kept alive, and how long a quiet link is believed (both ms). */
export interface HeartbeatOptions {
  /** A Heartbeat goes out on each link we write to at least this often (default 100). */
  intervalMs: number;
  /** A link we read from that shows no byte for this long names its peer lost (default 1000). */
  silenceMs: number;
}

export const DEFAULT_HEARTBEAT: HeartbeatOptions = { intervalMs: 100, silenceMs: 1000 };

/**
 * Throws a RangeError unless intervalMs >= 1 and silenceMs >= 2 × intervalMs: a peer must get
 * at least two chances to be heard before it is judged, or one late timer would convict it.
 */
export function checkHeartbeat(h: HeartbeatOptions, where = "heartbeat"): void {
  const ok = Number.isFinite(h.intervalMs) && Number.isFinite(h.silenceMs) && h.intervalMs >= 1 && h.silenceMs >= 2 * h.intervalMs;
  if (!ok) {
    throw new RangeError(
      `${where}: intervalMs ${h.intervalMs} and silenceMs ${h.silenceMs} do not work together; ` +
        `pass intervalMs >= 1 and silenceMs >= 2 × intervalMs (defaults ${DEFAULT_HEARTBEAT.intervalMs} and ${DEFAULT_HEARTBEAT.silenceMs})`,
    );
  }
}

const HEARTBEAT_HEADER: Omit<FrameHeader, "payloadBytes"> = { type: FrameType.Heartbeat, flags: 0, seq: 0, tag: 0, aux0: 0, aux1: 0, aux2: 0 };

export interface WatchedLinks {
  rank: number;
  worldSize: number;
  /** The link we write to `peer` on, once it is up. */
  outbound(peer: number): FramedConnection | undefined;
  /** The link `peer`'s frames arrive on, once it is up. */
  inbound(peer: number): FramedConnection | undefined;
  /** `peer`'s link showed nothing for `silentMs` of listening; called at most once per peer. */
  onSilent(peer: number, silentMs: number): void;
}

/** Sends the heartbeats and judges silence, on one timer (unref'd: it never keeps a process alive). */
export class LinkWatch {
  /** When each peer was last heard, in listening time (Note [silence is counted while we listen]). */
  private readonly heardMs: number[];
  private readonly reported: boolean[];
  private lastTickMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly o: HeartbeatOptions,
    private readonly links: WatchedLinks,
  ) {
    checkHeartbeat(o);
    this.lastTickMs = performance.now();
    this.heardMs = new Array<number>(links.worldSize).fill(this.lastTickMs);
    this.reported = new Array<boolean>(links.worldSize).fill(false);
  }

  start(): void {
    if (this.timer || this.links.worldSize === 1) return;
    this.lastTickMs = performance.now();
    this.heardMs.fill(this.lastTickMs);
    this.timer = setInterval(() => this.tick(), this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const now = performance.now();
    const stalledMs = Math.max(0, now - this.lastTickMs - this.o.intervalMs);
    this.lastTickMs = now;
    for (let p = 0; p < this.links.worldSize; p++) {
      if (p === this.links.rank) continue;
      const out = this.links.outbound(p);
      // Bytes still queued will reach the peer before a heartbeat could; one more adds nothing
      // (and a stopped peer's queue would only grow).
      if (out?.open && out.socket.writableLength === 0) out.send(HEARTBEAT_HEADER);
      const link = this.links.inbound(p);
      if (!link?.open || this.reported[p]) continue;
      const heard = link.holding ? now : Math.max(this.heardMs[p]! + stalledMs, link.lastReadMs);
      this.heardMs[p] = heard;
      if (now - heard >= this.o.silenceMs) {
        this.reported[p] = true;
        this.links.onSilent(p, Math.round(now - heard));
      }
    }
  }
}
