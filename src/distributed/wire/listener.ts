// A TCP listener whose connections must authenticate before anything else. Refused connections
// (no secret, wrong secret, silence past the deadline, one too many) are closed and logged at most
// once a second (refusal-log.ts); the listener and every authenticated connection carry on.
//
// Note [pending connections]: anybody who can reach the port can open connections, so what an
// unauthenticated one may cost is bounded three ways (issue 12, item 7):
//  - until its first byte it is only its socket and an entry here (no handshake state, promise or
//    timer of its own: one sweep timer enforces the deadline), then it reads only into the
//    handshake's own 40-byte buffer; the 64 KiB frame buffers come after authentication
//    (connection.ts: Stages). Node's own cost of accepting a socket into JavaScript remains: a
//    bare server that destroys every socket at once grows ~17 MB over 4,000 in two seconds
//    (V8's heap, collected later), where this listener grows ~18 MB;
//  - it has `handshakeDeadlineMs` (2 s) to finish, where a real handshake takes 1.5 round trips;
//  - at most `maxPending` (64) are authenticating at once. Authenticated connections do not count.
// At the cap, a new socket is admitted and the oldest pending one that has sent nothing is
// destroyed (if all have sent something, the oldest of all). Refusing the newcomer instead would
// let 64 silent strangers lock a real rank out: its dialer retries only a refused connect
// (base/retry.ts), so a socket closed under it fails the rank's whole rendezvous. A real client
// sends its 40-byte hello as soon as it connects and finishes in one more round trip, so it is
// never the oldest silent one for long: to evict it, strangers must open `maxPending` sockets in
// that moment, and each costs them a connection the kernel accepted. Evicting a silent one first
// also means a flood of strangers that do send a hello cannot push a real rank out faster than
// its proof arrives.
import net from "node:net";
import { HandshakeDeadlineError } from "./auth.js";
import { FramedConnection } from "./connection.js";
import type { FrameLimits } from "./frame.js";
import type { FrameSink } from "./frame-reader.js";
import { RefusalLog, type RefusalReason } from "./refusal-log.js";
import type { Logger } from "../base/log.js";
import type { TrafficCounter } from "../base/traffic-counter.js";

/** Bounds on unauthenticated connections (Note [pending connections]). */
export interface AcceptGuard {
  /** Connections authenticating at once; beyond it the oldest silent one is evicted. */
  maxPending: number;
  /** A connection must finish the handshake within this time (the smaller of it and handshakeTimeoutMs). */
  handshakeDeadlineMs: number;
  /** At most one log line about refused connections per this many milliseconds. */
  refusalLogIntervalMs: number;
}

export const DEFAULT_ACCEPT_GUARD: AcceptGuard = { maxPending: 64, handshakeDeadlineMs: 2000, refusalLogIntervalMs: 1000 };

export interface ListenerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  secret: Buffer;
  limits: FrameLimits;
  handshakeTimeoutMs: number;
  log: Logger;
  /** Names the listener in log lines, e.g. "store" or "rank 2". */
  label: string;
  /** Counts the frames of accepted connections (connection.ts: ConnectionOptions.traffic). */
  traffic?: TrafficCounter | undefined;
  /** Overrides of DEFAULT_ACCEPT_GUARD (tests shorten them). */
  guard?: Partial<AcceptGuard> | undefined;
}

/** What the owner provides for accepted sockets: a frame sink per connection, and what to do once it is proven. */
export interface AcceptedConnectionSetup {
  sink(conn: FramedConnection): FrameSink;
  onAuthenticated(conn: FramedConnection): void;
}

interface Pending {
  from: string;
  since: number;
  /** Whether it has sent a byte, so that its handshake (FramedConnection.accept) has begun. */
  started: boolean;
  /** Set when the cap evicted it, so its refusal is counted as such rather than as a failed handshake. */
  evicted: boolean;
  /** Set when the sweep closed it, silent, at the deadline. */
  expired: boolean;
}

export class AuthenticatedListener {
  private constructor(
    private readonly server: net.Server,
    readonly host: string,
    readonly port: number,
    private readonly pending: Map<net.Socket, Pending>,
    private readonly refusals: RefusalLog,
    private readonly life: { closed: boolean; sweep: NodeJS.Timeout | undefined },
  ) {}

  static listen(options: ListenerOptions, setup: AcceptedConnectionSetup): Promise<AuthenticatedListener> {
    const guard = { ...DEFAULT_ACCEPT_GUARD, ...options.guard };
    if (!Number.isInteger(guard.maxPending) || guard.maxPending < 1) {
      throw new RangeError(`${options.label}: maxPending must be a whole number of connections, at least 1; got ${guard.maxPending}`);
    }
    const life: { closed: boolean; sweep: NodeJS.Timeout | undefined } = { closed: false, sweep: undefined };
    const deadlineMs = Math.min(options.handshakeTimeoutMs, guard.handshakeDeadlineMs);
    const refusals = new RefusalLog({
      label: options.label,
      log: options.log,
      intervalMs: guard.refusalLogIntervalMs,
      maxPending: guard.maxPending,
      handshakeDeadlineMs: deadlineMs,
    });
    // Insertion order is arrival order, so the first match is the oldest.
    const pending = new Map<net.Socket, Pending>();
    const evictOne = (): void => {
      let victim: net.Socket | undefined;
      for (const s of pending.keys()) {
        if (s.bytesRead === 0) {
          victim = s;
          break;
        }
      }
      victim ??= pending.keys().next().value;
      if (!victim) return;
      // Out of the count now: its close (and so its refusal) is reported a tick later.
      pending.get(victim)!.evicted = true;
      pending.delete(victim);
      victim.destroy();
    };
    const refuse = (entry: Pending, err: Error | undefined): void => {
      // Those closed by close() are not refusals.
      if (life.closed) return;
      let reason: RefusalReason = err instanceof HandshakeDeadlineError || entry.expired ? "deadline" : "handshake";
      let message = err?.message ?? "closed before sending anything";
      if (entry.evicted) {
        reason = "cap";
        message = `closed after ${Date.now() - entry.since} ms unauthenticated to make room: ${guard.maxPending} connections were authenticating`;
      } else if (entry.expired) {
        message = `authentication with ${entry.from} did not finish within ${deadlineMs} ms`;
      }
      refusals.refused(reason, entry.from, message);
    };
    // Silent connections have no timer of their own (a started one has FramedConnection's): one
    // timer closes those past the deadline, oldest first, and rearms for the next.
    const sweep = (): void => {
      life.sweep = undefined;
      const now = Date.now();
      for (const [s, e] of pending) {
        if (e.started) continue;
        if (now - e.since < deadlineMs) {
          life.sweep = setTimeout(sweep, e.since + deadlineMs - now).unref();
          return;
        }
        e.expired = true;
        pending.delete(s);
        s.destroy();
      }
    };
    const server = net.createServer((socket) => {
      while (pending.size >= guard.maxPending) evictOne();
      // Until its first byte a connection is only this entry and its socket: no handshake state,
      // no promise, no timer (Note [pending connections]).
      const entry: Pending = { from: `${socket.remoteAddress}:${socket.remotePort}`, since: Date.now(), started: false, evicted: false, expired: false };
      pending.set(socket, entry);
      life.sweep ??= setTimeout(sweep, deadlineMs).unref();
      socket.on("error", () => {});
      const silentClose = (): void => {
        if (pending.get(socket) === entry) pending.delete(socket);
        refuse(entry, undefined);
      };
      socket.once("close", silentClose);
      socket.once("data", (chunk: Buffer) => {
        socket.off("close", silentClose);
        entry.started = true;
        const leftMs = Math.max(1, deadlineMs - (Date.now() - entry.since));
        FramedConnection.accept(socket, { ...options, handshakeTimeoutMs: leftMs, sink: (conn) => setup.sink(conn) }, chunk).then(
          (conn) => {
            pending.delete(socket);
            setup.onAuthenticated(conn);
          },
          (err: Error) => {
            if (pending.get(socket) === entry) pending.delete(socket);
            refuse(entry, err);
          },
        );
      });
    });
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host, () => {
        server.off("error", reject);
        const addr = server.address() as net.AddressInfo;
        resolve(new AuthenticatedListener(server, options.host, addr.port, pending, refusals, life));
      });
    });
  }

  /** Connections accepted and still authenticating (at most the guard's maxPending). */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Stops accepting and closes the connections still authenticating; authenticated ones are closed by their owners. */
  close(): Promise<void> {
    this.life.closed = true;
    if (this.life.sweep) clearTimeout(this.life.sweep);
    for (const s of this.pending.keys()) s.destroy();
    this.pending.clear();
    return new Promise((resolve) =>
      this.server.close(() => {
        this.refusals.flush();
        resolve();
      }),
    );
  }
}
