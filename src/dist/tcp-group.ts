// Process groups over TCP, run on a comm thread.
import { ThreadedExecutor } from "./comm-thread/threaded-executor.js";
import type { EngineOptions } from "./engine.js";
import { DEFAULT_FRAME_LIMITS } from "./frame.js";
import { ProcessGroup } from "./process-group.js";

export interface TcpGroupOptions extends Partial<EngineOptions> {
  rank: number;
  worldSize: number;
  /** The job secret (text, at least 16 characters). */
  secret: string;
  /** The rendezvous store (normally WEFT_MASTER_ADDR:WEFT_MASTER_PORT). */
  storeHost: string;
  storePort: number;
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
}

let groupsCreated = 0;

/** Starts the comm thread, meets the other ranks through the store, and returns the group once all links are up. */
export async function createTcpProcessGroup(options: TcpGroupOptions): Promise<ProcessGroup> {
  const { rank, worldSize, secret, storeHost, storePort, groupName, listenHost, connectTimeoutMs, maxFrameBytes, ...engine } = options;
  const limits = { ...DEFAULT_FRAME_LIMITS, ...(maxFrameBytes === undefined ? {} : { maxDataBytes: maxFrameBytes }) };
  if (engine.segmentBytes !== undefined && engine.segmentBytes > limits.maxDataBytes) {
    throw new RangeError(`segmentBytes ${engine.segmentBytes} is above maxFrameBytes ${limits.maxDataBytes}`);
  }
  const { executor } = await ThreadedExecutor.start({
    rank,
    worldSize,
    secret,
    storeHost,
    storePort,
    groupName: groupName ?? `pg${groupsCreated++}`,
    listenHost,
    connectTimeoutMs: connectTimeoutMs ?? 60_000,
    handshakeTimeoutMs: 5000,
    limits,
    engine,
  });
  return new ProcessGroup(rank, worldSize, executor);
}
