// One door from a `--rdzv` value to a RendezvousStore: "HOST:PORT" or "tcp://HOST:PORT" is the
// embedded store that node 0's launcher serves (StoreClient), "etcd://HOST:PORT[,HOST:PORT...]"
// an etcd cluster (EtcdStore). Callers get the interface and never branch on which it is.
import type { RendezvousStore } from "./rendezvous-store.js";
import { StoreClient } from "./store-client.js";
import type { EtcdStoreOptions } from "./etcd-store.js";
import { parseHostPort } from "./etcd-endpoints.js";
import type { Logger } from "../base/log.js";

export type RendezvousUrl = { kind: "store"; host: string; port: number } | { kind: "etcd"; endpoints: string[] };

const FORMS = "HOST:PORT, tcp://HOST:PORT or etcd://HOST:PORT[,HOST:PORT...]";

/**
 * What a `--rdzv` value names. The embedded store's port may be 0 (node 0 picks one; nobody can
 * dial it); etcd endpoints need real ports. Throws a one-line Error naming the value otherwise.
 *
 * @example Both kinds of rendezvous
 * ```ts
 * assert.deepEqual(parseRendezvousUrl("10.0.0.1:29500"), { kind: "store", host: "10.0.0.1", port: 29500 });
 * assert.deepEqual(parseRendezvousUrl("etcd://10.0.0.1:2379,10.0.0.2:2379"), { kind: "etcd", endpoints: ["10.0.0.1:2379", "10.0.0.2:2379"] });
 * assert.throws(() => parseRendezvousUrl("etcd://10.0.0.1"), /needs HOST:PORT endpoints separated by commas/);
 * ```
 */
export function parseRendezvousUrl(url: string): RendezvousUrl {
  const text = url.trim();
  if (text.startsWith("etcd://")) {
    const list = text.slice("etcd://".length);
    const endpoints = list.split(",").map((e) => e.trim());
    const bad = endpoints.filter((e) => parseHostPort(e) === undefined);
    if (list === "" || bad.length > 0) {
      throw new Error(`--rdzv etcd://... needs HOST:PORT endpoints separated by commas, got "${url}"${list === "" ? "" : ` (not HOST:PORT: ${bad.map((e) => `"${e}"`).join(", ")})`}`);
    }
    return { kind: "etcd", endpoints };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (scheme !== null && scheme[1]!.toLowerCase() !== "tcp") {
    throw new Error(`--rdzv does not know the scheme "${scheme[1]}://" in "${url}": use ${FORMS}`);
  }
  const hostPort = scheme === null ? text : text.slice(scheme[0].length);
  // Port 0 is the launcher's "any free port" for the store node 0 serves itself.
  const hp = parseHostPort(hostPort, 0);
  if (hp === undefined) throw new Error(`--rdzv must be ${FORMS} with ports up to 65535, got "${url}"`);
  return { kind: "store", ...hp };
}

export interface ConnectRendezvousOptions {
  /** HMAC key of the job secret: the embedded store authenticates with it (etcd does not; see docs/rendezvous.md). */
  secret: Buffer;
  /** The job id: etcd keys live under `weft/<jobId>/`. Required for etcd, unused by the embedded store. */
  jobId?: string;
  /** Deadline of store calls (blocking ones may pass their own). Default 30 s. */
  timeoutMs?: number;
  /** How long to keep trying to reach the store before giving up. Default 30 s. */
  connectTimeoutMs?: number;
  log?: Logger;
  /** For etcd:// only: TLS and etcd's own users, for a cluster run as docs/rendezvous.md advises on untrusted networks. */
  etcd?: Pick<EtcdStoreOptions, "tls" | "auth">;
}

/** Connects to the store `url` names (parseRendezvousUrl); StoreError when it cannot be reached within connectTimeoutMs. */
export async function connectRendezvousStore(url: string, opts: ConnectRendezvousOptions): Promise<RendezvousStore> {
  const where = parseRendezvousUrl(url);
  const deadlines = {
    ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
    ...(opts.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: opts.connectTimeoutMs }),
  };
  if (where.kind === "etcd") {
    if (opts.jobId === undefined || !/^[A-Za-z0-9._-]+$/.test(opts.jobId)) {
      throw new Error(`--rdzv ${url} needs a job id of letters, digits, ".", "_" or "-" to keep this job's keys apart, got ${opts.jobId === undefined ? "none" : `"${opts.jobId}"`}`);
    }
    // Imported only for etcd: its gRPC client takes about 0.4 s to load, which every comm thread
    // dialling the embedded store would otherwise pay.
    const { EtcdStore } = await import("./etcd-store.js");
    return EtcdStore.connect({ endpoints: where.endpoints, prefix: `weft/${opts.jobId}/`, ...deadlines, ...opts.etcd });
  }
  if (where.port === 0) throw new Error(`--rdzv ${url} has port 0, which only node 0 can serve on: give the port the store listens on`);
  return StoreClient.connect({ host: where.host, port: where.port, secret: opts.secret, ...deadlines, ...(opts.log === undefined ? {} : { log: opts.log }) });
}
