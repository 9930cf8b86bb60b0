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
 * took (in the group's own numbering, the one send() takes); every other operation nothing.
 */
export type OpResult = void | { source: number };

/**
 * Note [per-peer waits]: a collective may be given, beside its request, an output array of
 * worldSize numbers (OpExecutor.submit's `waitedMs`), which the executor fills once the operation
 * succeeded with the ms from this rank's arrival until it saw each rank arrive (0 for a rank that
 * was there first, and for itself): over TCP from the peers' Arrive frames (engine.ts), through
 * shared memory from their arrival stamps (Note [shm arrival stamps]). The flight recorder passes
 * it (group/flight-recorder.ts). It is not part of the request, which crosses to the comm thread
 * by structured clone: an extra typed array there cost a 4-byte all-reduce 10 µs.
 */
export type WaitsOut = Float64Array | undefined;

/** Two numbers: when an inline operation started and ended, in ms of the monotonic clock (Note [native call spans] in group/flight-recorder.ts). */
export type OpSpan = Float64Array | undefined;

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
