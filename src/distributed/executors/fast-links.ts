// The calling thread's TCP links of a group (Note [fast link frames] in native/dist/tcp-fast.h):
// one socket per pair of ranks, made and authenticated here on JavaScript timers, then handed to
// native code, which alone reads and writes them from then on.
//
// Set-up: listen on the group's interface, publish the address under `<group>#fast` in the store,
// dial every lower rank (the higher rank of a pair dials) and accept the higher ones. On every
// socket the job-secret handshake of the peer links (wire/auth.ts) runs first, the dialer as the
// client; then both sides send a Hello, "WFTH" | rank | worldSize | name length | group name (u32
// little-endian each), and check the other's. A connection that fails the handshake is closed and
// logged, and set-up keeps waiting for the real peers, as the comm thread's listener does.
//
// The sockets are non-blocking and polled on a 1 ms timer during set-up, so the event loop goes
// on (the comm thread's set-up needs it); set-up reads exactly the bytes it expects (the
// handshake lends buffers of the size it wants), so nothing of the first collective is consumed.
import { ranksText, StoreTimeoutError } from "../base/errors.js";
import type { FastAddon } from "../base/native-dist.js";
import type { Logger } from "../base/log.js";
import type { AddressBook } from "../rendezvous/address-book.js";
import { Handshake, type AuthRole } from "../wire/auth.js";
import type { ByteConsumer } from "../wire/byte-consumer.js";

export interface FastLinksOptions {
  rank: number;
  worldSize: number;
  /** HMAC key of the job secret. */
  secret: Buffer;
  addresses: AddressBook;
  groupName: string;
  listenHost: string;
  connectTimeoutMs: number;
  handshakeTimeoutMs: number;
  log: Logger;
  /** A subgroup's job-wide rank names, for messages. */
  rankNames?: readonly number[] | undefined;
}

const HELLO_MAGIC = 0x48544657; // "WFTH" little-endian
const HELLO_BYTES = 16;
const MAX_NAME_BYTES = 4096;
const EAGAIN = -11;
const TICK_MS = 1;
/** What a rank without fast links publishes in place of an address. */
const NONE = "none";

/** Reads the 16-byte Hello and its name, then checks them. */
class HelloReader implements ByteConsumer {
  private buf = new Uint8Array(HELLO_BYTES);
  private filled = 0;
  private headerDone = false;
  rank = -1;
  worldSize = -1;
  name = "";
  done = false;

  constructor(private readonly fail: (why: string) => void) {}

  nextBuffer(): Uint8Array {
    return this.buf.subarray(this.filled);
  }

  advance(n: number): boolean {
    this.filled += n;
    if (this.filled < this.buf.length) return true;
    const view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    if (!this.headerDone) {
      if (view.getUint32(0, true) !== HELLO_MAGIC) return this.stop("the first bytes after the handshake are not a fast-link Hello");
      this.rank = view.getUint32(4, true);
      this.worldSize = view.getUint32(8, true);
      const nameBytes = view.getUint32(12, true);
      if (nameBytes > MAX_NAME_BYTES) return this.stop(`its Hello names a group of ${nameBytes} bytes`);
      this.headerDone = true;
      this.buf = new Uint8Array(nameBytes);
      this.filled = 0;
      if (nameBytes > 0) return true;
    }
    this.name = Buffer.from(this.buf).toString("utf8");
    this.done = true;
    return true;
  }

  private stop(why: string): boolean {
    this.fail(why);
    return false;
  }
}

function encodeHello(rank: number, worldSize: number, group: string): Buffer {
  const name = Buffer.from(group, "utf8");
  const b = Buffer.alloc(HELLO_BYTES + name.length);
  b.writeUInt32LE(HELLO_MAGIC, 0);
  b.writeUInt32LE(rank, 4);
  b.writeUInt32LE(worldSize, 8);
  b.writeUInt32LE(name.length, 12);
  name.copy(b, HELLO_BYTES);
  return b;
}

/** One socket being set up: its pending output, and what reads its input now. */
class Channel {
  private readonly out: Buffer[] = [];
  consumer: ByteConsumer | undefined;
  failure: string | undefined;
  closed = false;

  constructor(
    private readonly addon: FastAddon,
    readonly fd: number,
    /** When set-up of this socket must be done (ms since the epoch). */
    readonly deadline: number,
  ) {}

  write(bytes: Buffer): void {
    this.out.push(bytes);
    this.flush();
  }

  /** Writes what it can and reads what the consumer wants; false once the socket failed. */
  pump(): boolean {
    if (this.failure !== undefined) return false;
    this.flush();
    while (this.consumer && this.failure === undefined) {
      const dst = this.consumer.nextBuffer();
      if (dst.length === 0) break;
      const n = this.addon.fastRead(this.fd, dst);
      if (n === EAGAIN) break;
      if (n <= 0) {
        this.failure ??= n === 0 ? "it closed the connection" : `read failed (errno ${-n})`;
        break;
      }
      if (!this.consumer.advance(n)) break;
    }
    return this.failure === undefined;
  }

  private flush(): void {
    while (this.out.length > 0 && this.failure === undefined) {
      const head = this.out[0]!;
      const n = this.addon.fastWrite(this.fd, head);
      if (n === EAGAIN) return;
      if (n < 0) {
        this.failure = `write failed (errno ${-n})`;
        return;
      }
      if (n === head.length) this.out.shift();
      else this.out[0] = head.subarray(n);
    }
  }

  get flushed(): boolean {
    return this.out.length === 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.addon.fastClose(this.fd);
  }
}

/**
 * Runs the handshake and the Hello exchange on `ch` as `role`; resolves with the peer's rank
 * once both are done and this side's Hello is written, rejects with why it failed.
 */
function greet(ch: Channel, role: AuthRole, o: FastLinksOptions, checkPeer: (rank: number) => string | undefined): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let settled = false;
    const fail = (why: string): void => {
      ch.failure ??= why;
    };
    const hello = new HelloReader(fail);
    const handshake = new Handshake(role, o.secret, (bytes) => ch.write(bytes), (err) => {
      if (err) return fail(err.message);
      ch.write(encodeHello(o.rank, o.worldSize, o.groupName));
      ch.consumer = hello;
    });
    ch.consumer = handshake;
    handshake.start();
    const tick = (): void => {
      if (settled) return;
      ch.pump();
      if (hello.done && ch.failure === undefined) {
        const wrongGroup = hello.name !== o.groupName || hello.worldSize !== o.worldSize;
        const why = wrongGroup ? `it is in group "${hello.name}" of ${hello.worldSize} ranks, not "${o.groupName}" of ${o.worldSize}` : checkPeer(hello.rank);
        if (why !== undefined) fail(why);
      }
      if (ch.failure !== undefined) {
        settled = true;
        return reject(new Error(ch.failure));
      }
      if (hello.done && ch.flushed) {
        settled = true;
        return resolve(hello.rank);
      }
      if (Date.now() > ch.deadline) {
        settled = true;
        return reject(new Error("it did not finish the handshake in time"));
      }
      setTimeout(tick, TICK_MS);
    };
    tick();
  });
}

export class FastLinks {
  private closed = false;

  private constructor(
    private readonly addon: FastAddon,
    /** fds[r]: the socket to rank r; -1 for this rank. */
    readonly fds: Int32Array,
  ) {}

  /**
   * Tells the other ranks that this one has no fast links (no native addon here, or fastPath:
   * false), so that every rank of the group goes without (create() resolves undefined).
   */
  static async decline(o: Pick<FastLinksOptions, "rank" | "addresses">): Promise<void> {
    await o.addresses.publish(o.rank, NONE);
  }

  /**
   * Makes and authenticates a socket to every other rank, within connectTimeoutMs; undefined, on
   * every rank alike, when any rank declined.
   */
  static async create(addon: FastAddon, o: FastLinksOptions): Promise<FastLinks | undefined> {
    const name = (r: number): number => o.rankNames?.[r] ?? r;
    const deadline = Date.now() + o.connectTimeoutMs;
    const [listenFd, port] = addon.fastListen(o.listenHost);
    const fds = new Int32Array(o.worldSize).fill(-1);
    const links = new FastLinks(addon, fds);
    const host = o.listenHost.includes(":") ? `[${o.listenHost}]` : o.listenHost;
    let accepting = true;
    const accepted = new Set<number>();
    try {
      await o.addresses.publish(o.rank, `${host}:${port}`);
      // Every rank's entry first: one that declined means no fast links anywhere.
      const entries = await Promise.all(Array.from({ length: o.worldSize }, (_, r) => (r === o.rank ? "" : o.addresses.lookup(r, Math.max(1, deadline - Date.now())))));
      if (entries.includes(NONE)) {
        accepting = false;
        return undefined;
      }
      const higher = o.worldSize - 1 - o.rank;
      // Accept the higher ranks: each accepted socket is greeted on its own, so a stranger cannot hold up a peer.
      const allAccepted = new Promise<void>((resolve, reject) => {
        if (higher === 0) return resolve();
        const poll = (): void => {
          if (!accepting) return;
          for (let fd = addon.fastAccept(listenFd); fd >= 0; fd = addon.fastAccept(listenFd)) {
            const ch = new Channel(addon, fd, Math.min(deadline, Date.now() + o.handshakeTimeoutMs));
            greet(ch, "server", o, (r) => (r <= o.rank || r >= o.worldSize ? `it says it is rank ${r}, which does not dial rank ${o.rank}` : fds[r] !== -1 ? `a second link claims to be rank ${name(r)}` : undefined)).then(
              (r) => {
                fds[r] = fd;
                accepted.add(r);
                if (accepted.size === higher) resolve();
              },
              (err: Error) => {
                ch.close();
                o.log(`rank ${name(o.rank)}: refused a fast-link connection: ${err.message}`);
              },
            );
          }
          if (Date.now() > deadline) {
            const missing = [];
            for (let r = o.rank + 1; r < o.worldSize; r++) if (fds[r] === -1) missing.push(name(r));
            return reject(new Error(`rank ${name(o.rank)}: ${ranksText(missing)} did not open its fast link within ${o.connectTimeoutMs} ms`));
          }
          setTimeout(poll, TICK_MS);
        };
        poll();
      });
      const dials: Promise<void>[] = [];
      for (let r = 0; r < o.rank; r++) dials.push(links.dial(addon, o, r, deadline));
      await Promise.all([...dials, allAccepted]);
    } catch (err) {
      links.close();
      throw err instanceof StoreTimeoutError ? err : new Error(`fast links of ${o.groupName}: ${(err as Error).message}`);
    } finally {
      accepting = false;
      addon.fastClose(listenFd);
    }
    return links;
  }

  private async dial(addon: FastAddon, o: FastLinksOptions, peer: number, deadline: number): Promise<void> {
    const addr = await o.addresses.lookup(peer, Math.max(1, deadline - Date.now()));
    const i = addr.lastIndexOf(":");
    const host = addr.slice(0, i).replace(/^\[(.*)\]$/, "$1");
    const port = Number(addr.slice(i + 1));
    for (;;) {
      const fd = addon.fastConnect(host, port);
      const result = await until(() => addon.fastConnectResult(fd), deadline);
      if (result === 1) {
        const ch = new Channel(addon, fd, deadline);
        try {
          await greet(ch, "client", o, (r) => (r === peer ? undefined : `dialed rank ${peer} at ${addr} but it says it is rank ${r}`));
        } catch (err) {
          ch.close();
          throw new Error(`rank ${o.rankNames?.[peer] ?? peer} at ${addr}: ${(err as Error).message}`);
        }
        this.fds[peer] = fd;
        return;
      }
      addon.fastClose(fd);
      if (Date.now() > deadline) throw new Error(`could not connect to rank ${o.rankNames?.[peer] ?? peer} at ${addr} (errno ${-result})`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Shuts every link down (a peer waiting on one sees it closed) and closes it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (let r = 0; r < this.fds.length; r++) {
      const fd = this.fds[r]!;
      if (fd < 0) continue;
      this.addon.fastShutdown(fd);
      this.addon.fastClose(fd);
      this.fds[r] = -1;
    }
  }
}

/** Polls `probe` every tick until it is non-zero or the deadline passes (then 0 means still pending). */
async function until(probe: () => number, deadline: number): Promise<number> {
  for (;;) {
    const v = probe();
    if (v !== 0 || Date.now() > deadline) return v === 0 ? -110 : v;
    await new Promise((r) => setTimeout(r, TICK_MS));
  }
}
