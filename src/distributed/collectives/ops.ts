// The operations a process group runs, as plain data: the main thread builds them, the engine
// (on the comm thread, or inline for the in-process transport) executes them in order.
import type { WireDtype } from "../compression/wire-dtype.js";

/** How all-reduce and reduce-scatter combine ranks' values. `avg` is the sum divided by worldSize. */
export type ReduceOp = "sum" | "avg";

export type OpRequest =
  | { op: "allReduce"; buffer: Float32Array; reduceOp: ReduceOp; wire?: WireDtype; timeoutMs?: number }
  | { op: "reduceScatter"; input: Float32Array; output: Float32Array; reduceOp: ReduceOp; wire?: WireDtype; timeoutMs?: number }
  | { op: "allGather"; input: Float32Array; output: Float32Array; timeoutMs?: number }
  | { op: "broadcast"; buffer: Float32Array; root: number; timeoutMs?: number }
  | { op: "barrier"; timeoutMs?: number }
  | { op: "send"; buffer: Float32Array; peer: number; tag: number; timeoutMs?: number }
  | { op: "recv"; buffer: Float32Array; peer: number; tag: number; timeoutMs?: number }
  | { op: "recvAny"; buffer: Float32Array; tag: number; timeoutMs?: number };

export type OpName = OpRequest["op"];

/**
 * What an operation hands back once it completed: receive-any names the rank whose message it
 * took (in the group's own numbering, the one send() takes); a collective may say how long this
 * rank waited for each peer to arrive at it (the flight recorder's waits, group/flight-recorder.ts).
 */
export interface OpOutcome {
  source?: number;
  /**
   * Indexed by the group's ranks: ms from this rank's arrival at the collective to the moment it
   * saw peer r arrive (0 for a peer that was there first, and for itself). Only where the
   * transport can tell: over TCP the peers' Arrive frames, through shared memory their arrival
   * stamps (Note [shm arrival stamps]).
   */
  waitedMs?: ArrayLike<number>;
  /** How a collective ran ("ring", "recursive-doubling"), where the executor chose. */
  algorithm?: string;
}

export type OpResult = void | OpOutcome;

/** The names used in error messages and logs. */
export const OP_DISPLAY_NAMES: Record<OpName, string> = {
  allReduce: "all-reduce",
  reduceScatter: "reduce-scatter",
  allGather: "all-gather",
  broadcast: "broadcast",
  barrier: "barrier",
  send: "send",
  recv: "recv",
  recvAny: "recv-any",
};
