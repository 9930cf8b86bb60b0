// Messages between the main thread and the comm thread. Operation requests are posted as they
// are: their Float32Arrays sit on SharedArrayBuffers, which structured clone shares rather than
// copies, so the comm thread reads and writes the caller's memory directly.
import type { EngineOptions } from "../collectives/engine.js";
import type { SerializedError } from "../base/errors.js";
import type { FrameLimits } from "../wire/frame.js";
import type { OpRequest } from "../collectives/ops.js";

export interface CommWorkerConfig {
  rank: number;
  worldSize: number;
  /** The job secret (text); the comm thread derives the HMAC key itself. */
  secret: string;
  storeHost: string;
  storePort: number;
  groupName: string;
  /** Interface to listen on; default: the local address of the connection to the store. */
  listenHost: string | undefined;
  connectTimeoutMs: number;
  handshakeTimeoutMs: number;
  limits: FrameLimits;
  engine: Partial<EngineOptions>;
}

export type ToCommThread = { kind: "op"; id: number; request: OpRequest } | { kind: "close" };

export type FromCommThread =
  | { kind: "ready"; address: string }
  | { kind: "initFailed"; error: SerializedError }
  | { kind: "done"; id: number }
  | { kind: "failed"; id: number; error: SerializedError }
  | { kind: "closed" };
