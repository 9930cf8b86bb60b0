// The contract between a process group and where its operations run: the comm thread (TCP
// groups, threaded-executor.ts), inline through shared memory (shm-executor.ts), inline in-process
// (group/in-process-group.ts), or inline for a group of one (single-executor.ts). It lives here,
// below group/, so that executors do not import the group that uses them.
import type { OpRequest, OpResult } from "../collectives/ops.js";
import type { Traffic } from "../base/traffic-counter.js";

export interface OpExecutor {
  /** Resolves with the operation's result (recv-any: its source), rejects with its error. */
  submit(request: OpRequest): Promise<OpResult>;
  close(): Promise<void>;
  /**
   * Bytes this rank has sent and received for the group so far (ProcessGroup.traffic says what
   * each kind counts); still readable after close().
   */
  traffic(): Traffic;
}
