// Client of the rendezvous store (store-server.ts). Every call has a deadline: blocking calls
// carry it to the server, and the client gives up a little later itself in case the server is gone.
import type { RendezvousStore } from "./rendezvous-store.js";
import { FramedConnection } from "../wire/connection.js";
import { StoreError, StoreTimeoutError } from "../base/errors.js";
import { DEFAULT_FRAME_LIMITS, FrameType, type FrameHeader } from "../wire/frame.js";
import { stderrLogger, type Logger } from "../base/log.js";
import { retryWhileRefused } from "../base/retry.js";
import { encodeStoreRequest, StoreOp, StoreStatus } from "./store-protocol.js";

export interface StoreClientOptions {
  host: string;
  port: number;
  /** HMAC key of the job secret. */
  secret: Buffer;
  /** Keep retrying a refused connection until this much time has passed (the server may start later). */
  connectTimeoutMs?: number;
  /** Default deadline of blocking calls. */
  timeoutMs?: number;
  log?: Logger;
}

/** Extra time the client waits beyond a server-side deadline before declaring the server gone. */
const CLIENT_GRACE_MS = 2000;

interface Pending {
  resolve(h: FrameHeader, payload: Uint8Array): void;
  reject(err: Error): void;
}

export class StoreClient implements RendezvousStore {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private conn!: FramedConnection;

  private constructor(
    readonly host: string,
    readonly port: number,
    private readonly timeoutMs: number,
  ) {}

  static async connect(options: StoreClientOptions): Promise<StoreClient> {
    const client = new StoreClient(options.host, options.port, options.timeoutMs ?? 30_000);
    const deadline = Date.now() + (options.connectTimeoutMs ?? 30_000);
    try {
      client.conn = await retryWhileRefused(`the store at ${options.host}:${options.port}`, deadline, () =>
        FramedConnection.dial(options.host, options.port, {
          secret: options.secret,
          limits: DEFAULT_FRAME_LIMITS,
          handshakeTimeoutMs: 5000,
          log: options.log ?? stderrLogger,
          sink: () => ({
            destinationFor: () => undefined,
            onFrame: (h, payload) => client.onResponse(h, payload),
          }),
        }),
      );
    } catch (err) {
      throw new StoreError((err as Error).message);
    }
    client.conn.onClose = (reason) => client.failAll(new StoreError(`store connection closed: ${reason}`));
    return client;
  }

  get endpoint(): string {
    return `${this.host}:${this.port}`;
  }

  /** The local address of the connection to the store: the interface peers can reach us on. */
  get localAddress(): string {
    return this.conn.socket.localAddress ?? "127.0.0.1";
  }

  private onResponse(h: FrameHeader, payload: Uint8Array): void {
    if (h.type !== FrameType.StoreResponse) throw new Error(`store client got a ${h.type} frame`);
    const p = this.pending.get(h.seq);
    if (!p) return;
    this.pending.delete(h.seq);
    p.resolve(h, payload);
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private request(op: StoreOp, keys: string[], opts: { timeoutMs?: number; delta?: number; value?: Uint8Array } = {}): Promise<Uint8Array> {
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const id = this.nextId++;
    const what = `${Object.keys(StoreOp).find((k) => StoreOp[k as keyof typeof StoreOp] === op)} ${keys.join(", ")}`;
    return new Promise((resolve, reject) => {
      if (!this.conn.open) return reject(new StoreError(`store ${what}: the connection to ${this.host}:${this.port} is closed`));
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new StoreTimeoutError(`store ${what}: no answer from ${this.host}:${this.port} within ${timeoutMs + CLIENT_GRACE_MS} ms`));
      }, timeoutMs + CLIENT_GRACE_MS);
      this.pending.set(id, {
        resolve: (h, payload) => {
          clearTimeout(timer);
          if (h.aux0 === StoreStatus.Ok) return resolve(payload);
          const text = Buffer.from(payload).toString("utf8");
          if (h.aux0 === StoreStatus.Timeout) {
            reject(new StoreTimeoutError(`store ${what}: still missing [${text}] after ${timeoutMs} ms`));
          } else {
            reject(new StoreError(`store ${what}: ${text}`));
          }
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      const payload = encodeStoreRequest({ op, keys, timeoutMs, delta: opts.delta ?? 0, value: opts.value ?? new Uint8Array(0) });
      this.conn.send({ type: FrameType.StoreRequest, flags: 0, seq: id, tag: 0, aux0: 0, aux1: 0, aux2: 0 }, payload);
    });
  }

  /** Sets `key` to `value` (text is stored as UTF-8), waking everybody waiting for it. */
  async set(key: string, value: string | Uint8Array): Promise<void> {
    await this.request(StoreOp.Set, [key], { value: typeof value === "string" ? Buffer.from(value, "utf8") : value });
  }

  /** The value of `key`, waiting until it exists; StoreTimeoutError after `timeoutMs`. */
  async get(key: string, timeoutMs?: number): Promise<Buffer> {
    return Buffer.from(await this.request(StoreOp.Get, [key], timeoutMs === undefined ? {} : { timeoutMs }));
  }

  /** `get` decoded as UTF-8. */
  async getString(key: string, timeoutMs?: number): Promise<string> {
    return (await this.get(key, timeoutMs)).toString("utf8");
  }

  /** Atomically adds `delta` to the counter at `key` (missing = 0) and returns the new value. */
  async add(key: string, delta = 1): Promise<number> {
    const out = await this.request(StoreOp.Add, [key], { delta });
    return Buffer.from(out).readDoubleLE(0);
  }

  /** Waits until every key exists; StoreTimeoutError naming the missing ones after `timeoutMs`. */
  async wait(keys: string[], timeoutMs?: number): Promise<void> {
    await this.request(StoreOp.Wait, keys, timeoutMs === undefined ? {} : { timeoutMs });
  }

  /** Removes `key`; true if it existed. */
  async delete(key: string): Promise<boolean> {
    return (await this.request(StoreOp.Delete, [key]))[0] === 1;
  }

  close(): void {
    this.failAll(new StoreError("store client closed"));
    this.conn.close();
  }
}
