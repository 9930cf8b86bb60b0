// Messages between the main thread and the comm thread. Operation requests are posted as they
// are: their Float32Arrays sit on SharedArrayBuffers, which structured clone shares rather than
// copies, so the comm thread reads and writes the caller's memory directly.
import type { EngineOptions, RankNaming } from "../collectives/engine.js";
import type { SerializedError } from "../base/errors.js";
import type { FrameLimits } from "../wire/frame.js";
import type { OpRequest } from "../collectives/ops.js";
import type { HeartbeatOptions } from "../transport/link-watch.js";

export interface CommWorkerConfig {
  rank: number;
  worldSize: number;
  /** The job secret (text); the comm thread derives the HMAC key itself. */
  secret: string;
  /** The rendezvous store: "HOST:PORT" of the embedded one, or "etcd://..." (rendezvous/connect-store.ts). */
  rendezvous: string;
  /** The job id: an etcd rendezvous keeps this job's keys under it. */
  jobId: string | undefined;
  groupName: string;
  /** Interface to listen on; default: the local address of the connection to the store. */
  listenHost: string | undefined;
  connectTimeoutMs: number;
  handshakeTimeoutMs: number;
  limits: FrameLimits;
  engine: Partial<EngineOptions>;
  /** A subgroup's job-wide rank names (Note [global rank names] in collectives/engine.ts). */
  naming: RankNaming | undefined;
  /** The group's traffic counter (base/traffic-counter.ts), shared: this thread writes it, the main thread reads it. */
  traffic: SharedArrayBuffer;
  /** Heartbeat period and the silence that names a peer lost (transport/link-watch.ts). */
  heartbeat: HeartbeatOptions;
}

export type ToCommThread =
  | { kind: "op"; id: number; request: OpRequest }
  /** ProcessGroup.abort: fail the running operation and every later one, here and on every peer. */
  | { kind: "abort"; reason: string }
  | { kind: "close" };

export type FromCommThread =
  | { kind: "ready"; address: string }
  | { kind: "initFailed"; error: SerializedError }
  /** `source`: the rank a receive-any took its message from; `waitedMs`: a collective's waits for each peer (OpOutcome). */
  | { kind: "done"; id: number; source?: number; waitedMs?: ArrayLike<number>; algorithm?: string }
  | { kind: "failed"; id: number; error: SerializedError }
  /** The group failed (Note [a failed group stays failed]), whether or not an operation ran. */
  | { kind: "groupFailed"; error: SerializedError }
  | { kind: "closed" };
