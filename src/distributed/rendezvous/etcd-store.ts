// The rendezvous store kept in an etcd cluster, so a job's membership and addresses outlive any one
// machine: the embedded store (store-server.ts) dies with node 0, a 3-member etcd cluster loses
// nothing when one member does. Same contract as StoreClient (rendezvous-store.ts), plus keys
// bound to a lease, which vanish when the process holding them dies.
//
// Every key lives under `prefix` (`weft/<job id>/` from connectRendezvousStore), so jobs that share
// one etcd never see each other's keys. Every call has a deadline and is retried across members
// within it (Note [etcd attempts] in etcd-retry.ts). The job secret plays no part here: it still
// authenticates every link between ranks, and etcd only carries where to dial. An etcd run as
// it comes authenticates nobody; on networks you do not trust, run it with TLS and users and
// pass `tls` and `auth` (docs/rendezvous.md, Security).
//
// Reads that wait (get, wait) read the key, and when it is missing watch it from the revision
// after that read, so a set landing between the read and the watch is still seen. A watch that
// breaks (its member died) or that etcd cancels is dropped and the loop reads again: etcd3 would
// resume it by itself, but from a revision it moves on when the watch is created, which can skip
// an event that was due but not yet delivered. A quiet watch is also read again every RECHECK_MS,
// since one on a frozen member is silent, not broken.
import { randomBytes } from "node:crypto";
import { Etcd3, EtcdLeaseInvalidError, type Lease, type Namespace } from "etcd3";
import type { RendezvousStore } from "./rendezvous-store.js";
import { StoreError, StoreTimeoutError } from "../base/errors.js";
import { parseHostPort, probeLocalAddress } from "./etcd-endpoints.js";
import {
  MAX_ATTEMPT_MS, MemberHealth, oneLine, passThroughPolicy, skipFailedMemberPolicy, unreachableMessage, untilDeadline, watchBackoff,
  type AttemptContext,
} from "./etcd-retry.js";
import { EtcdLeasedKey, type LeasedKey } from "./etcd-leased-key.js";

export type { LeasedKey } from "./etcd-leased-key.js";

export interface EtcdStoreOptions {
  /** Client endpoints of the etcd members, "HOST:PORT" each. */
  endpoints: string[];
  /** Where this job's keys live, ending in "/" (e.g. "weft/<job id>/"). */
  prefix: string;
  /** Deadline of every call; get and wait may pass their own. Default 30 s, as StoreClient's. */
  timeoutMs?: number;
  /** How long connect keeps trying before the cluster must have answered (it may still be starting). Default 30 s. */
  connectTimeoutMs?: number;
  /**
   * TLS to the members, in PEM: the CA that signed their certificates, and this client's
   * certificate and key when etcd checks clients (--client-cert-auth). Without it, plain HTTP/2.
   */
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer };
  /** A user of etcd's own (etcdctl user add, auth enable), for a cluster that requires one. */
  auth?: { username: string; password: string };
}

/**
 * The least time a read inside get or wait gets, however short the wait: `get(key, 1)` is how
 * callers ask "is it there now?", and the answer must come from etcd, not from the clock. The
 * embedded store's client allows the same 2 s beyond a wait's deadline.
 */
const MIN_READ_MS = 2000;

/**
 * How often a waiting get or wait reads its key again even though its watch is quiet. A watch on
 * a member that froze, or whose machine dropped off the network, is silent rather than broken
 * until gRPC's keep-alive gives up on it (10 s); the read goes to a member that answers.
 */
const RECHECK_MS = 5000;

/** Where add's markers live, under the prefix (Note [exactly-once add]). */
const ADD_MARKERS = ".weft-add/";

type WatchOutcome =
  | { kind: "put"; value: Buffer }
  | { kind: "deadline"; connected: boolean; startedAt: number; error: unknown }
  | { kind: "lost" }
  | { kind: "recheck" }
  | { kind: "aborted" };

export class EtcdStore implements RendezvousStore {
  private closed = false;
  /** One per get/wait in progress, so close() can end them. */
  private readonly inFlight = new Set<AbortController>();
  private readonly leases = new Set<Lease>();
  /** Names this client's add markers; with the counter below, each add call's marker is unique. */
  private readonly clientId = randomBytes(8).toString("hex");
  private addCount = 0;
  private markerLease: { id: string; usableUntil: number } | undefined;

  private constructor(
    private readonly client: Etcd3,
    private readonly kv: Namespace,
    readonly endpoints: readonly string[],
    readonly prefix: string,
    private readonly timeoutMs: number,
    readonly localAddress: string,
  ) {}

  /**
   * Connects to the etcd cluster at `endpoints`: waits (up to connectTimeoutMs) until one member
   * accepts a connection, which gives localAddress, and the cluster answers a read, which needs a
   * quorum. StoreError naming every endpoint when it does not.
   *
   * @example A cluster that does not answer is an error by the deadline, never a hang
   * ```ts
   * const t0 = Date.now();
   * await assert.rejects(
   *   EtcdStore.connect({ endpoints: ["127.0.0.1:1", "127.0.0.1:2"], prefix: "weft/job-1/", connectTimeoutMs: 300 }),
   *   /etcd at 127\.0\.0\.1:1, 127\.0\.0\.1:2 did not answer within 300 ms .*: check the etcd members are running and reachable/,
   * );
   * assert.ok(Date.now() - t0 < 5000);
   * ```
   */
  static async connect(options: EtcdStoreOptions): Promise<EtcdStore> {
    const endpoints = [...options.endpoints];
    const bad = endpoints.filter((e) => parseHostPort(e) === undefined);
    if (endpoints.length === 0 || bad.length > 0) {
      throw new StoreError(`connect to etcd: endpoints must be HOST:PORT, got ${endpoints.length === 0 ? "none" : bad.map((e) => `"${e}"`).join(", ")}`);
    }
    if (!options.prefix.endsWith("/") || options.prefix.length < 2) {
      throw new StoreError(`connect to etcd: the key prefix must end in "/" so one job's keys never begin another's, got "${options.prefix}"`);
    }
    const connectTimeoutMs = options.connectTimeoutMs ?? 30_000;
    const deadline = Date.now() + connectTimeoutMs;
    const local = await probeLocalAddress(endpoints, deadline);
    if (typeof local !== "string") throw new StoreError(`connect to etcd: ${unreachableMessage(endpoints, connectTimeoutMs, local)}`);
    const hosts = endpoints.map((e) => `${options.tls === undefined ? "http" : "https"}://${e}`);
    const health = new MemberHealth(hosts);
    const client = new Etcd3({
      hosts,
      ...(options.tls === undefined
        ? {}
        : { credentials: { rootCertificate: options.tls.ca, ...(options.tls.key ? { privateKey: options.tls.key } : {}), ...(options.tls.cert ? { certChain: options.tls.cert } : {}) } }),
      // etcd3 trades the password for a token before the first call, and every later call waits
      // on that exchange: without a deadline of its own, a member that froze mid-exchange would
      // hold every call to its deadline.
      ...(options.auth === undefined ? {} : { auth: { ...options.auth, callOptions: () => ({ deadline: Date.now() + MAX_ATTEMPT_MS }) } }),
      faultHandling: { global: passThroughPolicy(), host: (member) => skipFailedMemberPolicy(member, health), watchBackoff: watchBackoff() },
      grpcOptions: {
        // A member that comes back is dialled again within a second, not after gRPC's 2-minute backoff.
        "grpc.initial_reconnect_backoff_ms": 100,
        "grpc.max_reconnect_backoff_ms": 1000,
        // Finds a member that vanished from the network under an open watch or keep-alive
        // stream; etcd accepts pings every 5 s or slower (--grpc-keepalive-min-time), so a
        // frozen member is noticed within 10 s.
        "grpc.keepalive_time_ms": 6000,
        "grpc.keepalive_timeout_ms": 4000,
      },
    });
    const store = new EtcdStore(client, client.namespace(options.prefix), endpoints, options.prefix, options.timeoutMs ?? 30_000, local);
    try {
      await untilDeadline(store.context("connect to etcd", deadline, connectTimeoutMs), (d) => store.kv.get(ADD_MARKERS).options({ deadline: d }).exec());
    } catch (err) {
      client.close();
      throw err;
    }
    return store;
  }

  /** "etcd 10.0.0.1:2379,10.0.0.2:2379", for messages. */
  get endpoint(): string {
    return `etcd ${this.endpoints.join(",")}`;
  }

  private context(what: string, deadline: number, timeoutMs: number, signal?: AbortSignal): AttemptContext {
    return { endpoints: this.endpoints, deadline, timeoutMs, what, closed: () => this.closed || signal?.aborted === true };
  }

  /** A context for a call with the store's default deadline, starting now. */
  private call(what: string): AttemptContext {
    return this.context(what, Date.now() + this.timeoutMs, this.timeoutMs);
  }

  /** Sets `key` to `value` (text is stored as UTF-8), waking everybody waiting for it. */
  async set(key: string, value: string | Uint8Array): Promise<void> {
    const bytes = toBuffer(value);
    await untilDeadline(this.call(`store set ${key}`), (d) => this.kv.put(key).value(bytes).options({ deadline: d }).exec());
  }

  /** The value of `key`, waiting until it exists; StoreTimeoutError after `timeoutMs`. */
  async get(key: string, timeoutMs = this.timeoutMs): Promise<Buffer> {
    const found = await this.waitFor(`store get ${key}`, [key], timeoutMs);
    return found[0]!;
  }

  /** `get` decoded as UTF-8. */
  async getString(key: string, timeoutMs?: number): Promise<string> {
    return (await this.get(key, timeoutMs)).toString("utf8");
  }

  /** Waits until every key exists; StoreTimeoutError naming the missing ones after `timeoutMs`. */
  async wait(keys: string[], timeoutMs = this.timeoutMs): Promise<void> {
    await this.waitFor(`store wait ${keys.join(", ")}`, keys, timeoutMs);
  }

  /** Removes `key`; true if it existed (after a retried attempt, whether the last attempt found it). */
  async delete(key: string): Promise<boolean> {
    const res = await untilDeadline(this.call(`store delete ${key}`), (d) => this.kv.delete().key(key).options({ deadline: d }).exec());
    return res.deleted !== "0";
  }

  /**
   * Atomically adds `delta` (default 1) to the counter at `key` (missing = 0; kept as decimal text,
   * like the embedded store's) and returns the new value; `add(key, 0)` reads it.
   *
   * Note [exactly-once add]: the add is a compare-and-swap on the key's mod revision, retried when
   * another client got there first. An attempt can also fail after etcd committed it (its member
   * died before answering); retrying that blindly would add twice. So the swap also writes a
   * marker unique to this call holding the new value, and every attempt first asks, in one
   * transaction, for the marker if it exists or else the counter: a marker means an earlier
   * attempt of this call took effect, and its value is the answer. Markers hang on a lease that
   * expires a minute or more after the call, so they clean themselves up.
   */
  async add(key: string, delta = 1): Promise<number> {
    const ctx = this.call(`store add ${key}`);
    const marker = `${ADD_MARKERS}${this.clientId}/${this.addCount++}`;
    for (;;) {
      const read = await untilDeadline(ctx, (d) =>
        this.kv.if(marker, "Create", ">", 0).then(this.kv.get(marker)).else(this.kv.get(key)).options({ deadline: d }).commit(),
      );
      const kv = read.responses[0]?.response_range.kvs[0];
      if (read.succeeded && kv !== undefined) return Number(kv.value.toString("utf8"));
      const current = kv === undefined ? 0 : Number(kv.value.toString("utf8"));
      if (!Number.isFinite(current)) {
        throw new StoreError(`${ctx.what}: the key holds "${oneLine(kv!.value.toString("utf8")).slice(0, 40)}", not a number: add only to keys that add created`);
      }
      const next = current + delta;
      const lease = await this.markerLeaseId(ctx);
      const swapped = await untilDeadline(ctx, (d) =>
        this.kv
          .if(key, "Mod", "==", kv?.mod_revision ?? "0")
          .then(this.kv.put(key).value(String(next)), this.kv.put(marker).value(String(next)).lease(lease))
          .options({ deadline: d })
          .commit()
          .then((r) => r.succeeded, (err: unknown) => {
            // The marker lease ended early (etcd lost it): take a new one and go round again.
            if (err instanceof EtcdLeaseInvalidError) return (this.markerLease = undefined), false;
            throw err;
          }),
      );
      if (swapped) return next;
    }
  }

  /** The lease add's markers hang on (Note [exactly-once add]): one per client, renewed by granting another. */
  private async markerLeaseId(ctx: AttemptContext): Promise<string> {
    if (this.markerLease !== undefined && Date.now() < this.markerLease.usableUntil) return this.markerLease.id;
    // A marker must outlive the call that wrote it: the lease lasts three deadlines, and is
    // used for new markers only while more than one deadline of it is left.
    const ttlSeconds = Math.max(60, Math.ceil((3 * this.timeoutMs) / 1000));
    const grantedAt = Date.now();
    const id = await untilDeadline(ctx, (d) => this.kv.lease(ttlSeconds, { autoKeepAlive: false, deadline: d }).grant());
    this.markerLease = { id, usableUntil: grantedAt + ttlSeconds * 1000 - this.timeoutMs - MAX_ATTEMPT_MS };
    return id;
  }

  /**
   * Sets `key` to `value` bound to a new lease of `ttlSeconds` (a whole number, at least 1) that
   * this process keeps alive: when the process dies, even by SIGKILL, renewals stop and etcd
   * deletes the key within the TTL. `revoke()` on the handle deletes it at once; close() stops
   * the renewals and leaves the keys to expire.
   */
  async setWithLease(key: string, value: string | Uint8Array, ttlSeconds: number): Promise<LeasedKey> {
    const what = `store setWithLease ${key}`;
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
      throw new RangeError(`${what}: ttlSeconds must be a whole number of seconds, at least 1 (etcd's lease granularity), got ${ttlSeconds}`);
    }
    const bytes = toBuffer(value);
    const ctx = this.call(what);
    // Each attempt makes a fresh Lease (a failed grant closes its own). One given up on may still
    // be granted later and start renewing, so every one but the lease we keep is released.
    const tried: Lease[] = [];
    const releaseTried = (keep?: Lease): void => tried.filter((l) => l !== keep).forEach((l) => l.release());
    let lease: Lease;
    try {
      lease = await untilDeadline(ctx, async (d) => {
        const l = this.kv.lease(ttlSeconds, { deadline: d });
        tried.push(l);
        await l.grant();
        return l;
      });
    } catch (err) {
      releaseTried();
      throw err;
    }
    releaseTried(lease);
    this.leases.add(lease);
    try {
      await untilDeadline(ctx, (d) => lease.put(key).value(bytes).options({ deadline: d }).exec());
    } catch (err) {
      this.leases.delete(lease);
      lease.release();
      throw err;
    }
    return new EtcdLeasedKey(key, ttlSeconds, lease, {
      revokeContext: () => this.call(`store revoke the lease of ${key}`),
      forget: () => this.leases.delete(lease),
    });
  }

  /** The values of `keys` once all exist; StoreTimeoutError naming those still missing at the deadline. */
  private async waitFor(what: string, keys: string[], timeoutMs: number): Promise<Buffer[]> {
    const deadline = Date.now() + timeoutMs;
    const abort = new AbortController();
    this.inFlight.add(abort);
    try {
      const values = await Promise.all(
        keys.map((key) =>
          this.awaitKey(what, key, deadline, timeoutMs, abort.signal).catch((err: unknown) => {
            abort.abort(); // one key's failure ends the others' watches
            throw err;
          }),
        ),
      );
      const missing = keys.filter((_, i) => values[i] === undefined);
      if (this.closed) throw new StoreError(`${what}: the etcd store was closed`);
      if (missing.length > 0) throw new StoreTimeoutError(`${what}: still missing [${missing.join(", ")}] after ${timeoutMs} ms`);
      return values as Buffer[];
    } finally {
      abort.abort();
      this.inFlight.delete(abort);
    }
  }

  /** The value of `key` once it exists, or undefined if it does not by `deadline` (or the wait was aborted). */
  private async awaitKey(what: string, key: string, deadline: number, timeoutMs: number, signal: AbortSignal): Promise<Buffer | undefined> {
    // The call's start, so that a first read that fails reports the call's own deadline exactly.
    const start = deadline - timeoutMs;
    // Watches lost in a row: after one, pause before reading again, so that a stream that keeps
    // breaking while reads work does not become a busy loop.
    let lost = 0;
    for (let read = 0; ; read++) {
      if (lost > 0) await new Promise((r) => setTimeout(r, Math.min(20 * 2 ** lost, 500, Math.max(0, deadline - Date.now()))));
      const readDeadline = Math.max(deadline, (read === 0 ? start : Date.now()) + MIN_READ_MS);
      const ctx = this.context(what, readDeadline, readDeadline - start, signal);
      const res = await untilDeadline(ctx, (d) => this.kv.get(key).options({ deadline: d }).exec());
      const kv = res.kvs[0];
      if (kv !== undefined) return kv.value;
      if (Date.now() >= deadline) return undefined;
      const outcome = await this.watchForPut(key, BigInt(res.header.revision) + 1n, deadline, signal);
      switch (outcome.kind) {
        case "put":
          return outcome.value;
        case "aborted":
          return undefined;
        case "deadline":
          // A watch that has been down for a whole attempt's time means etcd stopped answering,
          // which is a different fix from "the key never came".
          if (!outcome.connected && deadline - outcome.startedAt > MAX_ATTEMPT_MS) {
            throw new StoreError(`${what}: ${unreachableMessage(this.endpoints, timeoutMs, outcome.error)}`);
          }
          return undefined;
        case "lost": // read again, from the revision the cluster is at now
          lost++;
          break;
        case "recheck": // the same, at once: the watch did not break, it was only quiet
          lost = 0;
          break;
      }
    }
  }

  /** Watches `key` from `fromRevision` until it is put, the watch breaks, RECHECK_MS or the deadline passes, or `signal` fires. */
  private watchForPut(key: string, fromRevision: bigint, deadline: number, signal: AbortSignal): Promise<WatchOutcome> {
    return new Promise((resolve) => {
      const startedAt = Date.now();
      const watcher = this.kv.watch().key(key).startRevision(fromRevision.toString()).only("put").watcher();
      let connected = false;
      let error: unknown;
      let done = false;
      const finish = (outcome: WatchOutcome): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        watcher.cancel().catch(() => undefined);
        resolve(outcome);
      };
      const onAbort = (): void => finish({ kind: "aborted" });
      const recheckAt = startedAt + RECHECK_MS;
      const timer = recheckAt < deadline
        ? setTimeout(() => finish({ kind: "recheck" }), RECHECK_MS)
        : setTimeout(() => finish({ kind: "deadline", connected, startedAt, error }), Math.max(0, deadline - Date.now()));
      signal.addEventListener("abort", onAbort, { once: true });
      // 'error' must always have a listener, even after we are done: an EventEmitter throws an
      // unheard one, and etcd3 can still emit it while the cancel is under way.
      watcher.on("error", (err) => ((error = err), finish({ kind: "lost" })));
      watcher.on("connected", () => (connected = true));
      // A broken stream (its member died): awaitKey reads again, through any member that answers.
      watcher.on("disconnected", (err) => ((error = err), finish({ kind: "lost" })));
      watcher.on("put", (kv) => finish({ kind: "put", value: kv.value }));
      if (signal.aborted) onAbort();
    });
  }

  /** Ends calls in progress (StoreError), stops lease renewals (their keys expire by TTL) and closes the connections. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const abort of this.inFlight) abort.abort();
    for (const lease of this.leases) lease.release();
    this.leases.clear();
    this.client.close();
  }
}

/** The value's bytes, copied: a retried attempt sends what the caller passed, even if they reuse their array. */
function toBuffer(value: string | Uint8Array): Buffer {
  return typeof value === "string" ? Buffer.from(value, "utf8") : Buffer.from(value);
}
