// TCP links between the ranks of one group, one connection per ordered pair of ranks.
//
// Note [receiver dials]: frames from rank a to rank b travel on a connection that b dialed to a's
// listener. Node can read straight into caller memory (`onread`) only on sockets it dials, so
// making the receiver the dialer lets every Data frame land directly in its destination (a
// staging segment or the caller's SharedArrayBuffer) with no intermediate Buffer. Each link is
// therefore used in one direction after the handshake: the dialer announces itself with a Hello
// frame ("I am rank b of group g; send me your frames"), the listener answers with its own Hello,
// and from then on only the listener writes.
//
// Set-up: listen (on the interface the store is reached through, unless told otherwise), publish
// our address in the group's address book (rendezvous/address-book.ts), read every peer's, dial each, and wait until every
// peer has dialed us too. Strangers that cannot authenticate are refused and logged; the mesh
// keeps waiting for the real peers.
//
// Liveness (link-watch.ts): from the start of set-up, a Heartbeat goes out on every link we write
// to every intervalMs, and a link we read from that shows no byte for silenceMs reports its peer
// lost, as a closed link does; both links to that peer are then closed, so that if it wakes up it
// finds them closed and fails at once instead of going on in a group that gave up on it.
import { FramedConnection } from "../wire/connection.js";
import { FrameError, ranksText, StoreTimeoutError } from "../base/errors.js";
import { FrameType, type FrameHeader, type FrameLimits } from "../wire/frame.js";
import type { FrameSink } from "../wire/frame-reader.js";
import { AuthenticatedListener, type AcceptedConnectionSetup } from "../wire/listener.js";
import type { Logger } from "../base/log.js";
import { retryWhileRefused } from "../base/retry.js";
import type { AddressBook } from "../rendezvous/address-book.js";
import type { TrafficCounter } from "../base/traffic-counter.js";
import type { Transport, TransportHandlers } from "./transport.js";
import { DEFAULT_HEARTBEAT, LinkWatch, type HeartbeatOptions } from "./link-watch.js";

export interface TcpTransportOptions {
  rank: number;
  worldSize: number;
  /** HMAC key of the job secret. */
  secret: Buffer;
  /** Where the group's ranks publish and find listen addresses. */
  addresses: AddressBook;
  /** Names this group in the store and in Hello frames, so links of another group are refused. */
  groupName: string;
  /** Interface to listen on. */
  listenHost: string;
  /** The whole mesh must be up within this time. */
  connectTimeoutMs: number;
  handshakeTimeoutMs: number;
  limits: FrameLimits;
  handlers: TransportHandlers;
  log: Logger;
  /** A subgroup's job-wide rank names, for set-up messages (Note [global rank names] in collectives/engine.ts). */
  rankNames?: readonly number[];
  /**
   * Counts the bytes of every frame on the group's links, both directions, headers included:
   * Hello frames too, but not the authentication handshake (wire/connection.ts). Written from the
   * thread this transport runs on (Note [traffic counters] in base/traffic-counter.ts).
   */
  traffic?: TrafficCounter | undefined;
  /** Heartbeat period and the silence that names a peer lost (default 100 ms and 1 s; link-watch.ts). */
  heartbeat?: HeartbeatOptions | undefined;
}

interface Hello {
  rank: number;
  worldSize: number;
  group: string;
}

function encodeHello(h: Hello): Buffer {
  return Buffer.from(JSON.stringify(h), "utf8");
}

function parseHello(header: FrameHeader, payload: Uint8Array, expectGroup: string, worldSize: number): Hello {
  if (header.type !== FrameType.Hello) throw new FrameError(`expected a Hello frame first, got type ${header.type}`);
  let h: Hello;
  try {
    h = JSON.parse(Buffer.from(payload).toString("utf8")) as Hello;
  } catch {
    throw new FrameError("Hello frame is not JSON");
  }
  if (h.group !== expectGroup || h.worldSize !== worldSize) {
    throw new FrameError(`Hello from group "${h.group}" of ${h.worldSize} ranks; this is group "${expectGroup}" of ${worldSize}`);
  }
  if (!Number.isInteger(h.rank) || h.rank < 0 || h.rank >= worldSize) throw new FrameError(`Hello names rank ${h.rank}, outside 0..${worldSize - 1}`);
  return h;
}

const HELLO_HEADER = { type: FrameType.Hello, flags: 0, seq: 0, tag: 0, aux0: 0, aux1: 0, aux2: 0 } as const;

export class TcpTransport implements Transport {
  /** outbound[p]: the connection p dialed to us, on which we write frames for p. */
  private readonly outbound: (FramedConnection | undefined)[];
  /** inbound[p]: the connection we dialed to p, on which p's frames arrive. */
  private readonly inbound: (FramedConnection | undefined)[];
  private listener: AuthenticatedListener | undefined;
  private closed = false;
  private linksUp = 0;
  private onLinkUp: () => void = () => {};
  private readonly watch: LinkWatch;

  private constructor(
    readonly rank: number,
    readonly worldSize: number,
    private readonly o: TcpTransportOptions,
  ) {
    this.outbound = new Array(worldSize).fill(undefined);
    this.inbound = new Array(worldSize).fill(undefined);
    this.watch = new LinkWatch(o.heartbeat ?? DEFAULT_HEARTBEAT, {
      rank,
      worldSize,
      outbound: (p) => this.outbound[p],
      inbound: (p) => this.inbound[p],
      onSilent: (p, ms) => this.linkSilent(p, ms),
    });
  }

  /** The address peers dial, once listening. */
  get address(): string {
    return `${this.listener!.host}:${this.listener!.port}`;
  }

  static async create(o: TcpTransportOptions): Promise<TcpTransport> {
    const t = new TcpTransport(o.rank, o.worldSize, o);
    const deadline = Date.now() + o.connectTimeoutMs;
    t.listener = await AuthenticatedListener.listen(
      { host: o.listenHost, port: 0, secret: o.secret, limits: o.limits, handshakeTimeoutMs: o.handshakeTimeoutMs, log: o.log, label: `rank ${t.name(o.rank)}`, traffic: o.traffic },
      t.acceptSetup(),
    );
    const allUp = new Promise<void>((resolve) => {
      t.onLinkUp = () => {
        if (++t.linksUp === 2 * (o.worldSize - 1)) resolve();
      };
    });
    if (o.worldSize === 1) t.onLinkUp = () => {};
    // Before the first link is up: a peer whose set-up finishes before ours watches our links
    // from then on, while we may still be waiting for a third rank.
    t.watch.start();
    try {
      await o.addresses.publish(o.rank, t.address);
      const dials: Promise<void>[] = [];
      for (let p = 0; p < o.worldSize; p++) if (p !== o.rank) dials.push(t.dialPeer(p, deadline));
      await Promise.all(dials);
      if (o.worldSize > 1) await withDeadline(allUp, deadline, () => t.missingLinksMessage());
    } catch (err) {
      t.close();
      throw err;
    }
    return t;
  }

  /** How rank `r` of this group is named in messages (a subgroup's are job ranks). */
  private name(r: number): number {
    return this.o.rankNames?.[r] ?? r;
  }

  /**
   * This group in messages, by its members' job ranks ("group [1, 3]"), as the engine's labels
   * name it (Note [global rank names] in collectives/engine.ts). Not by groupName: a nested
   * subgroup's name ("pg0/[1,3]#0/[0,1]#0") lists its parent's numbering, which would put two
   * numberings in one message.
   */
  private get groupText(): string {
    return this.o.rankNames ? `group [${this.o.rankNames.join(", ")}]` : "the process group";
  }

  private missingLinksMessage(): string {
    const missing: number[] = [];
    for (let p = 0; p < this.worldSize; p++) if (p !== this.rank && !this.outbound[p]) missing.push(this.name(p));
    return `rank ${this.name(this.rank)} of ${this.groupText}: ${ranksText(missing)} did not connect within ${this.o.connectTimeoutMs} ms; check that they started (and, for a subgroup, called newGroup with the same ranks) and can reach this host`;
  }

  /**
   * Accepted sockets: after authentication the dialer says Hello (who it is); we register the
   * link as our way to write to that rank and answer Hello. Nothing else may come from it.
   */
  private acceptSetup(): AcceptedConnectionSetup {
    return {
      sink: (conn) => {
        let hello: Hello | undefined;
        return {
          destinationFor: () => undefined,
          onFrame: (h, payload) => {
            if (hello) throw new FrameError(`rank ${this.name(hello.rank)} sent a frame on a link that only we write to`);
            hello = parseHello(h, payload, this.o.groupName, this.worldSize);
            this.register(conn, hello);
          },
        };
      },
      onAuthenticated: (conn) => {
        if (this.closed) conn.close();
      },
    };
  }

  private register(conn: FramedConnection, hello: Hello): void {
    if (hello.rank === this.rank || this.outbound[hello.rank]) {
      throw new FrameError(`a second link claims to be rank ${this.name(hello.rank)}`);
    }
    this.outbound[hello.rank] = conn;
    // Only the closing of the link we read from reports a lost peer: it is seen after the last
    // frame the peer sent, whereas this one may close (a peer that finished and exited) while
    // that peer's last frames are still in flight on the other link. A write to a closed link
    // fails the operation on its own.
    conn.onClose = () => {};
    conn.send(HELLO_HEADER, encodeHello({ rank: this.rank, worldSize: this.worldSize, group: this.o.groupName }));
    this.onLinkUp();
  }

  /** Dials `peer` (Note [receiver dials]) and waits for its Hello. */
  private async dialPeer(peer: number, deadline: number): Promise<void> {
    const addr = await this.o.addresses.lookup(peer, Math.max(1, deadline - Date.now())).catch((err: unknown) => {
      if (!(err instanceof StoreTimeoutError)) throw err;
      // The store's own message would only repeat this one with the store key's internal name.
      throw new StoreTimeoutError(
        `rank ${this.name(this.rank)} of ${this.groupText}: rank ${this.name(peer)} did not publish its address within ${this.o.connectTimeoutMs} ms; ` +
          `check that it started (and, for a subgroup, called newGroup with the same ranks)`,
      );
    });
    const i = addr.lastIndexOf(":");
    const host = addr.slice(0, i);
    const port = Number(addr.slice(i + 1));
    const engineSink = this.o.handlers.sinkFor(peer);
    let greeted = false;
    let resolveHello!: () => void;
    const helloSeen = new Promise<void>((r) => (resolveHello = r));
    const sink: FrameSink = {
      destinationFor: (h) => (greeted && h.type !== FrameType.Heartbeat ? engineSink.destinationFor(h) : undefined),
      attachResume: (resume) => engineSink.attachResume?.(resume),
      onFrame: (h, payload) => {
        if (h.type === FrameType.Heartbeat) return; // link upkeep; its arrival was noted on the read
        if (greeted) return engineSink.onFrame(h, payload);
        const hello = parseHello(h, payload, this.o.groupName, this.worldSize);
        if (hello.rank !== peer) throw new FrameError(`dialed rank ${this.name(peer)} at ${addr} but it says it is rank ${this.name(hello.rank)}`);
        greeted = true;
        resolveHello();
      },
    };
    const conn = await retryWhileRefused(`rank ${this.name(peer)} at ${addr}`, deadline, () =>
      FramedConnection.dial(host, port, { secret: this.o.secret, limits: this.o.limits, handshakeTimeoutMs: this.o.handshakeTimeoutMs, sink: () => sink, log: this.o.log, traffic: this.o.traffic }),
    );
    this.inbound[peer] = conn;
    conn.onClose = (reason) => this.linkLost(peer, reason);
    if (this.closed) return conn.close();
    conn.send(HELLO_HEADER, encodeHello({ rank: this.rank, worldSize: this.worldSize, group: this.o.groupName }));
    await withDeadline(helloSeen, deadline, () => `rank ${this.name(this.rank)} of ${this.groupText}: rank ${this.name(peer)} at ${addr} did not answer our Hello`);
    this.onLinkUp();
  }

  private linkLost(peer: number, reason: string): void {
    if (this.closed) return;
    this.o.handlers.onPeerLost(peer, reason, "closed");
  }

  private linkSilent(peer: number, silentMs: number): void {
    if (this.closed) return;
    this.o.handlers.onPeerLost(
      peer,
      `silent for ${silentMs} ms: no frames or heartbeats came on its link (its process is stopped or hung, or the network between us is cut)`,
      "silent",
    );
    // After the engine's Abort frames (sent synchronously above), which the peer reads first if it wakes.
    this.outbound[peer]?.close();
    this.inbound[peer]?.close();
  }

  send(peer: number, header: Omit<FrameHeader, "payloadBytes">, payload?: Uint8Array, onWritten?: (err?: Error | null) => void): void {
    const conn = this.outbound[peer];
    if (!conn || !conn.open) {
      if (onWritten) queueMicrotask(() => onWritten(new Error(`no open link to rank ${peer}`)));
      return;
    }
    conn.send(header, payload, onWritten);
  }

  batch(fn: () => void): void {
    const corked = this.outbound.filter((c): c is FramedConnection => c !== undefined && c.open);
    for (const c of corked) c.socket.cork();
    try {
      fn();
    } finally {
      for (const c of corked) c.socket.uncork();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watch.stop();
    for (const c of [...this.outbound, ...this.inbound]) c?.close();
    void this.listener?.close();
  }
}

async function withDeadline<T>(p: Promise<T>, deadline: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
