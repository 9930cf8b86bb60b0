// Entry point of the comm thread. It owns the sockets and the collective engine, so socket
// progress never waits for the main thread: a long synchronous kernel there (a backward pass)
// does not stop frames from being received, reduced and forwarded here.
//
// The loop: requests arrive from the main thread as messages and are queued on the engine in
// order; each completion or failure is posted back with the request id. An abort goes to the
// engine at once, not behind the queued operations: it is meant to fail them. The transport's
// heartbeats and silence checks run on this thread's timers (transport/link-watch.ts), so they
// keep going however long the main thread computes.
import { parentPort, workerData } from "node:worker_threads";
import { CollectiveEngine } from "../collectives/engine.js";
import { CollectiveError, deserializeError, serializeError } from "../base/errors.js";
import { stderrLogger } from "../base/log.js";
import { secretKey } from "../wire/secret.js";
import { storeAddressBook } from "../rendezvous/address-book.js";
import { connectRendezvousStore } from "../rendezvous/connect-store.js";
import { TcpTransport } from "../transport/tcp-transport.js";
import { TrafficCounter } from "../base/traffic-counter.js";
import { FAILURE_BYTES, FAILURE_JSON_AT, WAIT_SLOTS, type CommWorkerConfig, type FromCommThread, type ToCommThread } from "./comm-messages.js";

const config = workerData as CommWorkerConfig;
const port = parentPort!;
const post = (m: FromCommThread): void => port.postMessage(m);
/** Note [waits through shared memory]. */
const waitSlots = new Float64Array(config.waits);

async function main(): Promise<void> {
  const secret = secretKey(config.secret);
  const engine = new CollectiveEngine(config.rank, config.worldSize, config.engine, config.naming);
  const failed = new Int32Array(config.failed, 0, 3);
  engine.onFailed = (err, closedLink) => {
    // Note [the failure in shared memory].
    const json = Buffer.from(JSON.stringify(serializeError(err)), "utf8");
    const n = Math.min(json.length, FAILURE_BYTES - FAILURE_JSON_AT);
    new Uint8Array(config.failed, FAILURE_JSON_AT, n).set(json.subarray(0, n));
    Atomics.store(failed, 1, n);
    Atomics.store(failed, 0, closedLink ? 2 : 1);
    post({ kind: "groupFailed", error: serializeError(err) });
  };
  const store = await connectRendezvousStore(config.rendezvous, {
    secret,
    ...(config.jobId === undefined ? {} : { jobId: config.jobId }),
    connectTimeoutMs: config.connectTimeoutMs,
    timeoutMs: config.connectTimeoutMs,
  });
  let transport: TcpTransport;
  try {
    transport = await TcpTransport.create({
      rank: config.rank,
      worldSize: config.worldSize,
      secret,
      addresses: storeAddressBook(store, config.groupName),
      groupName: config.groupName,
      listenHost: config.listenHost ?? store.localAddress,
      connectTimeoutMs: config.connectTimeoutMs,
      handshakeTimeoutMs: config.handshakeTimeoutMs,
      limits: config.limits,
      handlers: engine,
      log: stderrLogger,
      ...(config.naming ? { rankNames: config.naming.globalRanks } : {}),
      traffic: new TrafficCounter(config.traffic),
      heartbeat: config.heartbeat,
    });
  } finally {
    store.close();
  }
  engine.attach(transport);
  port.on("message", (m: ToCommThread) => {
    if (m.kind === "close") {
      engine.close();
      post({ kind: "closed" });
      port.close();
      return;
    }
    if (m.kind === "abort") return engine.abort(m.reason);
    if (m.kind === "fail") {
      const err = deserializeError(m.error);
      engine.fail(err instanceof CollectiveError ? err : new CollectiveError(err.message, { op: "unknown", seq: -1, ranks: [] }));
      // The peers are told (Note [the failure in shared memory]): the calling thread may throw.
      Atomics.store(failed, 2, 1);
      Atomics.notify(failed, 2);
      return;
    }
    const slot = m.id % WAIT_SLOTS;
    engine.run(m.request, m.waits ? waitSlots.subarray(slot * config.worldSize, (slot + 1) * config.worldSize) : undefined, m.skipSeqs ?? 0).then(
      (result) => post({ kind: "done", id: m.id, ...(result ? { source: result.source } : {}) }),
      (err: unknown) => post({ kind: "failed", id: m.id, error: serializeError(err) }),
    );
  });
  post({ kind: "ready", address: transport.address });
}

main().catch((err: unknown) => {
  post({ kind: "initFailed", error: serializeError(err) });
  port.close();
});
