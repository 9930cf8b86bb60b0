// A TCP listener whose connections must authenticate before anything else. Refused connections
// (no secret, wrong secret, silence past the deadline, one too many) are closed and logged at most
// once a second (refusal-log.ts); the listener and every authenticated connection carry on.
//
// Note [pending connections]: anybody who can reach the port can open connections, so what an
// unauthenticated one may cost is bounded (issue 12, item 7). Figures: 4,000 strangers held 20 s
// (scripts/bench-strangers.mjs, BENCHMARKS.md "Strangers at the door"; --listener-only for one
// listener alone on a worker thread, as a rank's is on its comm thread):
//  - at most `maxPending` (64) are authenticating at once; authenticated connections do not count.
//    Past the cap Node closes a newcomer on arrival, before any socket object exists: the listener
//    keeps net.Server.maxConnections at the authenticated count + maxPending. Taking a socket into
//    JavaScript is what a stranger costs (a bare server that destroys each one at once grows
//    17 MB: V8's heap, collected later); refusing all past the cap, the listener grows 9.5 MB;
//  - one newcomer past the cap in every `letInEvery` + 1 (5) is let in all the same, and the
//    oldest pending one that has sent nothing is destroyed for it (if all have sent something, the
//    oldest of all). This is what keeps strangers from locking a real rank out: refusing every
//    newcomer, 64 silent strangers that reopen whatever is closed would hold the port for ever
//    (listener-guard.test.ts shows a client getting in against such a holder). The rank's dialer
//    retries a connection closed before its handshake finished (base/retry.ts); a real client
//    sends its 40-byte hello as soon as it connects and finishes one round trip later, so once in
//    it is never the oldest silent one for long. With strangers holding every slot and nobody else
//    knocking, a rank's fourth attempt gets in (~150 ms of backoff); under a flood each attempt
//    has a one-in-five chance however fast the flood comes, which is why the allowance counts
//    newcomers closed rather than time (a time-based one gets rarer, per attempt, as the flood
//    gets faster). The trade-off is that ratio, memory against a rank's wait: alone, the listener
//    grows 13-14 MB letting in one in five and 16-17 MB one in two, where a rank dialing during
//    the flood waited at most 150-220 ms and 25-160 ms; refusing all, 9.5 MB and 3.6 s (until the
//    deadline closed the strangers). In a training worker, whose comm thread's heap has already
//    grown, one in five is lost in the noise (rank 0 grew 1-6 MB, the rank not attacked 0-10 MB). Since a full listener looks to a dialer like one closing the
//    handshake, a dialer now also retries until its deadline a server that closes it for another
//    reason (an incompatible authentication version) where it used to fail at once; a wrong
//    secret still fails at once, on the client's own check of the server's proof;
//  - until its first byte a pending connection is only its socket and an entry here (no handshake
//    state, promise or timer of its own: one sweep timer enforces the deadline), then it reads
//    only into the handshake's own 40-byte buffer; the 64 KiB frame buffers come after
//    authentication (connection.ts: Stages);
//  - it has `handshakeDeadlineMs` (2 s) to finish, where a real handshake takes 1.5 round trips.
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
  /** Connections authenticating at once; beyond it newcomers are closed on arrival, or one evicts the oldest silent one. */
  maxPending: number;
  /**
   * Newcomers closed on arrival at the cap for each one let in past it. Infinity lets none in,
   * so strangers holding every slot keep real ranks out: for benchmarks that compare, never for jobs.
   */
  letInEvery: number;
  /** A connection must finish the handshake within this time (the smaller of it and handshakeTimeoutMs). */
  handshakeDeadlineMs: number;
  /** At most one log line about refused connections per this many milliseconds. */
  refusalLogIntervalMs: number;
}

export const DEFAULT_ACCEPT_GUARD: AcceptGuard = { maxPending: 64, letInEvery: 4, handshakeDeadlineMs: 2000, refusalLogIntervalMs: 1000 };

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

/** Counts of what a listener did with the connections that reached it. */
export interface AcceptCounts {
  /** Sockets taken into JavaScript (each a net.Socket) since the listener opened. */
  admitted: number;
  /** Connections Node closed on arrival because maxPending were authenticating: they never became a socket object. */
  closedOnArrival: number;
  /** Pending connections closed to make room for a newcomer. */
  evicted: number;
  /** Connections authenticated and still open. */
  authenticated: number;
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
    private readonly counts: AcceptCounts,
    private readonly refusals: RefusalLog,
    private readonly life: { closed: boolean; sweep: NodeJS.Timeout | undefined },
  ) {}

  static listen(options: ListenerOptions, setup: AcceptedConnectionSetup): Promise<AuthenticatedListener> {
    const guard = { ...DEFAULT_ACCEPT_GUARD, ...options.guard };
    if (!Number.isInteger(guard.maxPending) || guard.maxPending < 1) {
      throw new RangeError(`${options.label}: maxPending must be a whole number of connections, at least 1; got ${guard.maxPending}`);
    }
    if (!(guard.letInEvery >= 1)) {
      throw new RangeError(`${options.label}: letInEvery must be at least 1 connection closed on arrival per one let in; got ${guard.letInEvery}`);
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
    const counts: AcceptCounts = { admitted: 0, closedOnArrival: 0, evicted: 0, authenticated: 0 };
    // Whether the next newcomer past the cap is let in (evicting one) rather than closed on
    // arrival, and how many were closed since the last one let in.
    let letOneIn = false;
    let closedSinceLetIn = 0;
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
      counts.evicted++;
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
    // Node closes a newcomer on arrival, before any socket object exists, while it holds
    // maxConnections: it counts every open socket of this server, so the limit is the
    // authenticated ones, maxPending, and one more when a newcomer is due to be let in. Node drops
    // a socket from its count when it is destroyed and this listener when it closes, a tick
    // later, so the limit errs by a socket or two on the side of letting in.
    const setLimit = (): void => {
      server.maxConnections = counts.authenticated + guard.maxPending + (letOneIn ? 1 : 0);
    };
    const server = net.createServer((socket) => {
      counts.admitted++;
      if (pending.size >= guard.maxPending) {
        letOneIn = false;
        while (pending.size >= guard.maxPending) evictOne();
      }
      setLimit();
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
            // Node counts it against maxConnections until it closes, so the limit makes room for
            // it (a socket already destroyed is no longer in Node's count).
            if (!socket.destroyed) {
              counts.authenticated++;
              socket.once("close", () => {
                counts.authenticated--;
                setLimit();
              });
              setLimit();
            }
            setup.onAuthenticated(conn);
          },
          (err: Error) => {
            if (pending.get(socket) === entry) pending.delete(socket);
            refuse(entry, err);
          },
        );
      });
    });
    const fullMessage = `closed on arrival: ${guard.maxPending} connections were authenticating`;
    server.on("drop", (data?: net.DropArgument) => {
      counts.closedOnArrival++;
      if (++closedSinceLetIn >= guard.letInEvery && !letOneIn) {
        closedSinceLetIn = 0;
        letOneIn = true;
        setLimit();
      }
      if (!life.closed) refusals.refused("full", `${data?.remoteAddress}:${data?.remotePort}`, fullMessage);
    });
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host, () => {
        server.off("error", reject);
        const addr = server.address() as net.AddressInfo;
        resolve(new AuthenticatedListener(server, options.host, addr.port, pending, counts, refusals, life));
      });
    });
  }

  /** Connections accepted and still authenticating (at most the guard's maxPending). */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** What the listener has done with connections so far (tests and benchmarks read it). */
  get acceptCounts(): Readonly<AcceptCounts> {
    return { ...this.counts };
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
