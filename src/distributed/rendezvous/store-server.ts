// The rendezvous store: a key-value map with blocking reads, served over authenticated TCP.
// `weft launch` runs one on node 0; workers use it to publish their listen addresses and wait for
// everybody else's. Values are bytes; `add` keeps counters as decimal text so `get` can read them.
import type { FramedConnection } from "../wire/connection.js";
import { DEFAULT_FRAME_LIMITS, FrameType, type FrameHeader, type FrameLimits } from "../wire/frame.js";
import { AuthenticatedListener, type AcceptGuard } from "../wire/listener.js";
import { stderrLogger, type Logger } from "../base/log.js";
import { decodeStoreRequest, StoreOp, StoreStatus, type StoreRequest } from "./store-protocol.js";

export interface StoreServerOptions {
  /** Interface to bind; loopback unless the job spans machines. */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** HMAC key of the job secret. */
  secret: Buffer;
  limits?: FrameLimits;
  handshakeTimeoutMs?: number;
  log?: Logger;
  /** Bounds on unauthenticated connections (Note [pending connections] in wire/listener.ts); the defaults suit any job. */
  guard?: Partial<AcceptGuard>;
}

interface Waiter {
  missing: Set<string>;
  finish(timedOut: boolean): void;
}

export class StoreServer {
  private readonly data = new Map<string, Buffer>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly connections = new Set<FramedConnection>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private listener: AuthenticatedListener | undefined,
    private readonly log: Logger,
  ) {}

  get host(): string {
    return this.listener!.host;
  }

  get port(): number {
    return this.listener!.port;
  }

  static async listen(options: StoreServerOptions): Promise<StoreServer> {
    const log = options.log ?? stderrLogger;
    const store = new StoreServer(undefined, log);
    store.listener = await AuthenticatedListener.listen(
      {
        host: options.host ?? "127.0.0.1",
        port: options.port ?? 0,
        secret: options.secret,
        limits: options.limits ?? DEFAULT_FRAME_LIMITS,
        handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5000,
        log,
        label: "store",
        guard: options.guard,
      },
      {
        sink: (conn) => ({
          destinationFor: () => undefined,
          onFrame: (h: FrameHeader, payload: Uint8Array) => {
            if (h.type !== FrameType.StoreRequest) throw new Error(`store got a ${h.type} frame, expected store requests`);
            store.handle(conn, h.seq, decodeStoreRequest(payload));
          },
        }),
        onAuthenticated: (conn) => {
          store.connections.add(conn);
          conn.onClose = (reason) => {
            store.connections.delete(conn);
            if (reason !== "closed by peer") log(`store: dropped client ${conn.remote}: ${reason}`);
          };
        },
      },
    );
    return store;
  }

  private respond(conn: FramedConnection, id: number, status: StoreStatus, payload: Uint8Array): void {
    if (conn.open) conn.send({ type: FrameType.StoreResponse, flags: 0, seq: id, tag: 0, aux0: status, aux1: 0, aux2: 0 }, payload);
  }

  private handle(conn: FramedConnection, id: number, req: StoreRequest): void {
    const key = req.keys[0] ?? "";
    switch (req.op) {
      case StoreOp.Set:
        this.put(key, Buffer.from(req.value));
        return this.respond(conn, id, StoreStatus.Ok, new Uint8Array(0));
      case StoreOp.Add: {
        const next = Number(this.data.get(key)?.toString("utf8") ?? "0") + req.delta;
        this.put(key, Buffer.from(String(next), "utf8"));
        const out = Buffer.alloc(8);
        out.writeDoubleLE(next, 0);
        return this.respond(conn, id, StoreStatus.Ok, out);
      }
      case StoreOp.Delete: {
        const existed = this.data.delete(key);
        return this.respond(conn, id, StoreStatus.Ok, Uint8Array.of(existed ? 1 : 0));
      }
      case StoreOp.Get:
      case StoreOp.Wait:
        return this.whenPresent(req.keys, req.timeoutMs, (timedOut, missing) => {
          if (timedOut) {
            this.respond(conn, id, StoreStatus.Timeout, Buffer.from(missing.join(", "), "utf8"));
          } else {
            this.respond(conn, id, StoreStatus.Ok, req.op === StoreOp.Get ? this.data.get(key)! : new Uint8Array(0));
          }
        });
    }
  }

  private put(key: string, value: Buffer): void {
    this.data.set(key, value);
    const ws = this.waiters.get(key);
    if (!ws) return;
    this.waiters.delete(key);
    for (const w of ws) {
      w.missing.delete(key);
      if (w.missing.size === 0) w.finish(false);
    }
  }

  /** Runs `done` once every key exists, or with timedOut=true after `timeoutMs`. */
  private whenPresent(keys: string[], timeoutMs: number, done: (timedOut: boolean, missing: string[]) => void): void {
    const missing = new Set(keys.filter((k) => !this.data.has(k)));
    if (missing.size === 0) return done(false, []);
    let timer: NodeJS.Timeout | undefined;
    const waiter: Waiter = {
      missing,
      finish: (timedOut) => {
        if (timer) {
          clearTimeout(timer);
          this.timers.delete(timer);
        }
        for (const k of waiter.missing) this.waiters.get(k)?.delete(waiter);
        done(timedOut, [...waiter.missing]);
      },
    };
    for (const k of missing) {
      let set = this.waiters.get(k);
      if (!set) this.waiters.set(k, (set = new Set()));
      set.add(waiter);
    }
    timer = setTimeout(() => waiter.finish(true), timeoutMs);
    this.timers.add(timer);
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const c of this.connections) c.close();
    await this.listener?.close();
  }
}
