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
  /**
   * Float64s, WAIT_SLOTS × worldSize, shared: the comm thread writes a collective's waits for
   * each peer (Note [per-peer waits] in collectives/ops.ts) in slot id % WAIT_SLOTS before it posts "done", and the main
   * thread copies them out when it handles that message (Note [waits through shared memory]).
   */
  waits: SharedArrayBuffer;
  /** FAILURE_BYTES, shared: Note [the failure in shared memory]. */
  failed: SharedArrayBuffer;
}

/**
 * Note [waits through shared memory]: a typed array posted with every operation, and back, is
 * cloned twice, which cost a 4-byte all-reduce over loopback 10 µs of its 135; a slot in shared
 * memory costs a copy of worldSize numbers. Slots are reused every WAIT_SLOTS operations; the
 * main thread reads slot k when it handles operation k's "done", and operations complete in
 * order, so a slot is overwritten only after WAIT_SLOTS later operations completed before the
 * main thread handled one message, which submissions (made on that thread) cannot outrun.
 */
export const WAIT_SLOTS = 256;

/**
 * Note [the failure in shared memory]: when the group fails, the comm thread writes the error
 * into CommWorkerConfig.failed (its JSON's length as an Int32 at byte 4, the UTF-8 JSON from byte
 * FAILURE_JSON_AT, cut at FAILURE_BYTES) and then sets the Int32 at byte 0 to 1 (2 when the
 * failure is only a peer's link that closed), before it posts "groupFailed". A collective blocked
 * on the calling thread (fast-executor.ts), which cannot receive that message until it returns,
 * polls the flag and reads the error from here, so that it stops at once and reports what the
 * comm thread saw. A closed link does not stop it (a fast collective sees a link it needs close
 * by itself, and one it no longer needs is no failure of it: Note [a lost peer is news only to
 * whom it fails]).
 *
 * The other way, a fast collective's failure is handed to the comm thread ("fail"), which sets
 * the Int32 at byte 8 to 1 once its Abort frames to every peer are written. The failing rank
 * waits for that before it throws: a program that exits on the error (most do) would otherwise
 * end the comm thread before it told anyone, and the peers, waiting on the comm thread's links,
 * would see this rank vanish rather than learn why.
 */
export const FAILURE_JSON_AT = 16;
export const FAILURE_BYTES = 16 << 10;

export type ToCommThread =
  /**
   * `waits`: fill the operation's slot of CommWorkerConfig.waits (Note [waits through shared
   * memory]); `skipSeqs`: collective numbers the fast path used before it (engine.run).
   */
  | { kind: "op"; id: number; request: OpRequest; waits: boolean; skipSeqs?: number }
  /** ProcessGroup.abort: fail the running operation and every later one, here and on every peer. */
  | { kind: "abort"; reason: string }
  /** A fast collective failed (fast-executor.ts): fail the group with this error and tell every peer. */
  | { kind: "fail"; error: SerializedError }
  | { kind: "close" };

export type FromCommThread =
  | { kind: "ready"; address: string }
  | { kind: "initFailed"; error: SerializedError }
  /** `source`: the rank a receive-any took its message from; a collective's waits are in its slot (CommWorkerConfig.waits). */
  | { kind: "done"; id: number; source?: number }
  | { kind: "failed"; id: number; error: SerializedError }
  /** The group failed (Note [a failed group stays failed]), whether or not an operation ran. */
  | { kind: "groupFailed"; error: SerializedError }
  | { kind: "closed" };
