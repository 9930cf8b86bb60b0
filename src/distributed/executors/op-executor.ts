// The contract between a process group and where its operations run: the comm thread (TCP
// groups, threaded-executor.ts), inline through shared memory (shm-executor.ts), inline in-process
// (group/in-process-group.ts), or inline for a group of one (single-executor.ts). It lives here,
// below group/, so that executors do not import the group that uses them.
import type { OpRequest, OpResult, OpSpan, WaitsOut } from "../collectives/ops.js";
import type { Traffic } from "../base/traffic-counter.js";
import type { CollectiveError } from "../base/errors.js";

export interface OpExecutor {
  /**
   * Resolves with the operation's result (recv-any: its source), rejects with its error. A
   * collective fills `waitedMs` (worldSize numbers) where the transport can tell (Note [per-peer waits] in collectives/ops.ts).
   */
  submit(request: OpRequest, waitedMs?: WaitsOut): Promise<OpResult>;
  /**
   * For executors that run collectives on the calling thread: runs `request` now when nothing of
   * the group is in flight, and returns true once it has completed (throwing its error, recorded
   * as failure() first), or returns false, having done nothing, when it must go through submit()
   * (Note [collectives that complete on the spot] in group/process-group.ts). Where the native
   * call measures it, `span` receives when the operation started and ended (Note [native call
   * spans] in group/flight-recorder.ts), failed or not; it is left as it was otherwise.
   */
  runNow?(request: OpRequest, waitedMs?: WaitsOut, span?: OpSpan): boolean;
  close(): Promise<void>;
  /**
   * Fails the running operation and every later one with GroupAbortedError, on this rank and on
   * every peer (ProcessGroup.abort). Returns at once; the failures follow within milliseconds.
   */
  abort(reason: string): void;
  /**
   * The error the group failed with, once this side knows it failed (Note [a failed group stays
   * failed] in collectives/engine.ts), or undefined.
   */
  failure(): CollectiveError | undefined;
  /**
   * Bytes this rank has sent and received for the group so far (ProcessGroup.traffic says what
   * each kind counts); still readable after close().
   */
  traffic(): Traffic;
}
