// Process groups over TCP, run on a comm thread; on one machine, collectives through shared memory.
//
// A subgroup is built by the same function, from the parent's options: a comm thread and links of
// its own, met through the same store under `<parent group name>/[<ranks>]#<n>` (the rank list and
// how many times it was made: unique, and the same on every member), and shared memory when the
// parent asked for it.
import { ThreadedExecutor } from "../executors/threaded-executor.js";
import { DEFAULT_ENGINE_OPTIONS, type EngineOptions, type RankNaming } from "../collectives/engine.js";
import { algorithmFor } from "../collectives/request.js";
import type { OpName } from "../collectives/ops.js";
import { stderrLogger } from "../base/log.js";
import { attachSharedMemory } from "../executors/shm-attach.js";
import { DEFAULT_FRAME_LIMITS } from "../wire/frame.js";
import { ProcessGroup, type SubgroupFactory } from "./process-group.js";
import { checkHeartbeat, DEFAULT_HEARTBEAT, type HeartbeatOptions } from "../transport/link-watch.js";
import { fastAddon } from "../base/native-dist.js";
import { FastLinks } from "../executors/fast-links.js";
import { FastTcpExecutor } from "../executors/fast-executor.js";
import { secretKey } from "../wire/secret.js";
import { storeAddressBook } from "../rendezvous/address-book.js";
import { connectRendezvousStore } from "../rendezvous/connect-store.js";

export interface TcpGroupOptions extends Partial<EngineOptions> {
  rank: number;
  worldSize: number;
  /** The job secret (text, at least 16 characters). */
  secret: string;
  /** The rendezvous store (normally WEFT_MASTER_ADDR:WEFT_MASTER_PORT). */
  storeHost: string;
  storePort: number;
  /** Another rendezvous instead of storeHost:storePort: "etcd://HOST:PORT[,...]" with `jobId` (docs/rendezvous.md). */
  rendezvous?: string;
  jobId?: string;
  /**
   * Names the group in the store; every rank must use the same name, and each new group (a new
   * generation) a new one. Default: "pg<n>" for the n-th group this process creates.
   */
  groupName?: string;
  /** Interface to listen on. Default: the local address used to reach the store (loopback on one host). */
  listenHost?: string;
  /** All links must be up within this time (default 60 s). */
  connectTimeoutMs?: number;
  /** Largest frame payload accepted from a peer (default 64 MiB). */
  maxFrameBytes?: number;
  /**
   * All ranks run on this machine: run collectives through shared memory (executors/shm-attach.ts), keeping
   * TCP for send/recv. Falls back to TCP alone, with a warning, when a rank cannot attach.
   */
  sharedMemory?: boolean;
  /** With sharedMemory: how long a wait spins before it sleeps, µs (default 0: sleep at once). */
  spinUs?: number;
  /** With sharedMemory: bytes per rank per chunk (Note [shm chunk protocol]; default 1 MiB). */
  shmChunkBytes?: number;
  /**
   * Liveness of the links (transport/link-watch.ts): a Heartbeat every intervalMs on each link,
   * and a peer that shows nothing for silenceMs is lost (PeerLostError naming it). Default 100 ms
   * and 1 s; silenceMs must be at least 2 × intervalMs. Subgroups use their parent's.
   */
  heartbeat?: HeartbeatOptions;
  /**
   * Small all-reduces and barriers on the calling thread, over links of their own (default true
   * where the native addon is built; executors/fast-executor.ts). false runs every collective on
   * the comm thread.
   */
  fastPath?: boolean;
  /** All-reduces up to this many bytes take the fast path (default 1 MiB for 2 ranks, else smallMessageBytes). */
  fastMessageBytes?: number;
  /** How long a fast collective's wait spins before it sleeps, µs (default 100). */
  fastSpinUs?: number;
}

let groupsCreated = 0;

/** "HOST:PORT" of the embedded store, bracketing an IPv6 host. */
export function storeAddress(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Starts the comm thread, meets the other ranks through the store, and returns the group once all
 * links are up. `naming` is for subgroups (Note [global rank names] in collectives/engine.ts).
 */
export async function createTcpProcessGroup(options: TcpGroupOptions, naming?: RankNaming): Promise<ProcessGroup> {
  const { rank, worldSize, secret, storeHost, storePort, rendezvous, jobId, groupName, listenHost, connectTimeoutMs, maxFrameBytes, sharedMemory, spinUs, shmChunkBytes, heartbeat, fastPath, fastMessageBytes, fastSpinUs, ...engine } = options;
  const liveness = { ...DEFAULT_HEARTBEAT, ...heartbeat };
  checkHeartbeat(liveness, "createTcpProcessGroup heartbeat");
  const limits = { ...DEFAULT_FRAME_LIMITS, ...(maxFrameBytes === undefined ? {} : { maxDataBytes: maxFrameBytes }) };
  if (engine.segmentBytes !== undefined && engine.segmentBytes > limits.maxDataBytes) {
    throw new RangeError(`segmentBytes ${engine.segmentBytes} is above maxFrameBytes ${limits.maxDataBytes}`);
  }
  const name = groupName ?? `pg${groupsCreated++}`;
  const { executor } = await ThreadedExecutor.start({
    rank,
    worldSize,
    secret,
    rendezvous: rendezvous ?? storeAddress(storeHost, storePort),
    jobId,
    groupName: name,
    listenHost,
    connectTimeoutMs: connectTimeoutMs ?? 60_000,
    handshakeTimeoutMs: 5000,
    limits,
    engine,
    naming,
    heartbeat: liveness,
  });
  const makeSubgroup: SubgroupFactory = (sub) =>
    createTcpProcessGroup({ ...options, ...sub.options, rank: sub.rank, worldSize: sub.worldSize, groupName: `${name}/${sub.key}` }, sub.naming);
  const small = engine.smallMessageBytes ?? DEFAULT_ENGINE_OPTIONS.smallMessageBytes;
  const tcpAlgorithm = (op: OpName, count: number): string => algorithmFor(op, count, worldSize, small);
  const internals = { globalRanks: naming?.globalRanks, makeSubgroup, algorithmOf: tcpAlgorithm };
  if (sharedMemory && worldSize > 1) {
    const timeoutMs = engine.timeoutMs ?? DEFAULT_ENGINE_OPTIONS.timeoutMs;
    let reason = "another rank could not attach";
    const shm = await attachSharedMemory(executor, { rank, worldSize, secret, store: rendezvous ?? storeAddress(storeHost, storePort), groupName: name, timeoutMs, spinUs: spinUs ?? 0, naming, ...(shmChunkBytes === undefined ? {} : { chunkFloats: Math.max(1, Math.floor(shmChunkBytes / 4)) }) }, (m) => (reason = m));
    // Collectives go through the segment; send and recv still over TCP.
    const shmAlgorithm = (op: OpName, count: number): string => (op === "send" || op === "recv" || op === "recvAny" ? "direct" : "shared-memory");
    if (shm) return new ProcessGroup(rank, worldSize, shm, "shared-memory", { ...internals, algorithmOf: shmAlgorithm });
    stderrLogger(`rank ${naming?.globalRanks[rank] ?? rank}${naming?.scope ?? ""}: collectives use TCP, not shared memory: ${reason}`);
  }
  const fast = await startFastPath(executor, fastPath !== false, { rank, worldSize, secret, rendezvous: rendezvous ?? storeAddress(storeHost, storePort), jobId, groupName: name, listenHost, connectTimeoutMs: connectTimeoutMs ?? 60_000, naming });
  if (!fast) return new ProcessGroup(rank, worldSize, executor, "tcp", internals);
  const fastBytes = fastMessageBytes ?? defaultFastBytes(worldSize, small);
  // What the flight recorder names: the fast path runs recursive doubling (in the comm thread's
  // order), and between two ranks larger all-reduces in halves (Note [all-reduce in halves]).
  const fastAlgorithm = (op: OpName, count: number): string =>
    op !== "allReduce" ? tcpAlgorithm(op, count) : count * 4 <= fastBytes ? "recursive-doubling" : worldSize === 2 ? "halves" : tcpAlgorithm(op, count);
  const fastExecutor = new FastTcpExecutor(fastAddon!, fast, rank, worldSize, executor, {
    fastBytes, timeoutMs: engine.timeoutMs ?? DEFAULT_ENGINE_OPTIONS.timeoutMs, spinUs: fastSpinUs ?? DEFAULT_FAST_SPIN_US, wire: engine.wire ?? DEFAULT_ENGINE_OPTIONS.wire, naming,
  });
  return new ProcessGroup(rank, worldSize, fastExecutor, "tcp", { ...internals, algorithmOf: fastAlgorithm });
}

/** Ranks of each group name that began their fast links in this process. */
const ranksHere = new Map<string, number>();

/** How long a fast collective spins before it sleeps (µs): a peer a round trip away is usually there by then. */
const DEFAULT_FAST_SPIN_US = 100;

/**
 * All-reduces up to this size take the calling thread's links (Note [two paths, one order] in
 * executors/fast-executor.ts). Their algorithm is recursive doubling, which between two ranks
 * sends what the ring sends (the whole buffer once each way) in one round instead of two, so
 * there it pays up to 1 MiB; with more ranks it sends log2(w) whole buffers, and the ring's
 * threshold (smallMessageBytes) holds.
 */
function defaultFastBytes(worldSize: number, smallMessageBytes: number): number {
  return worldSize === 2 ? Math.max(smallMessageBytes, 1 << 20) : smallMessageBytes;
}

/** The fast links of a TCP group, or undefined where a rank cannot have them or turned them off: the comm thread then runs everything. */
async function startFastPath(
  executor: ThreadedExecutor,
  wanted: boolean,
  o: { rank: number; worldSize: number; secret: string; rendezvous: string; jobId: string | undefined; groupName: string; listenHost: string | undefined; connectTimeoutMs: number; naming: RankNaming | undefined },
): Promise<FastLinks | undefined> {
  if (o.worldSize < 2) return undefined;
  // Two ranks of one group in one process (tests, notebooks) share its one thread: a fast
  // collective blocking it for a peer that needs the same thread would never finish. The second
  // such rank declines, and so the whole group goes without.
  const here = ranksHere.get(o.groupName) ?? 0;
  ranksHere.set(o.groupName, here + 1);
  const key = secretKey(o.secret);
  const store = await connectRendezvousStore(o.rendezvous, { secret: key, ...(o.jobId === undefined ? {} : { jobId: o.jobId }), connectTimeoutMs: o.connectTimeoutMs, timeoutMs: o.connectTimeoutMs });
  const addresses = storeAddressBook(store, `${o.groupName}#fast`);
  try {
    // A rank that cannot or will not have them says so, and every rank goes without.
    if (!wanted || !fastAddon || here > 0) return void (await FastLinks.decline({ rank: o.rank, addresses }));
    return await FastLinks.create(fastAddon, {
      rank: o.rank, worldSize: o.worldSize, secret: key, addresses, groupName: o.groupName,
      listenHost: o.listenHost ?? store.localAddress, connectTimeoutMs: o.connectTimeoutMs, handshakeTimeoutMs: 5000, log: stderrLogger,
      rankNames: o.naming?.globalRanks,
    });
  } catch (err) {
    await executor.close();
    throw err;
  } finally {
    store.close();
  }
}
