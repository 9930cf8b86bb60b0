// The executor of a one-rank group: a script started without `weft launch` (group/init.ts), or a
// subgroup of one rank. With nobody else to meet, every collective is the identity and runs
// inline: no socket, no thread, no store, and the returned promise is already settled.
//
// Results are what an engine of one rank gives: all-reduce leaves the buffer as it is (a sum of one
// term; `avg` divides by 1, which changes no bits), reduce-scatter and all-gather copy the input
// into the output, broadcast and barrier do nothing. Point-to-point has no peer to name, so
// validateRequest refuses it with a RangeError, as it refuses a peer outside any group. abort()
// has nobody to tell and nothing running to stop (operations finish as they are submitted), so
// all it does is refuse later operations, as a larger group would.
import type { OpRequest, OpResult } from "../collectives/ops.js";
import { OP_DISPLAY_NAMES } from "../collectives/ops.js";
import { validateRequest } from "../collectives/request.js";
import type { OpExecutor } from "./op-executor.js";
import type { Traffic } from "../base/traffic-counter.js";
import { GroupAbortedError, withMessage, type CollectiveError } from "../base/errors.js";

const DONE: Promise<OpResult> = Promise.resolve();

export class SingleExecutor implements OpExecutor {
  private closed = false;
  private aborted: GroupAbortedError | undefined;
  /** Collectives run so far: the sequence number an abort's error carries. */
  private seq = 0;

  /** `rankName`: the job rank of the one member, for messages (Note [global rank names] in collectives/engine.ts). */
  constructor(private readonly rankName = 0) {}

  submit(req: OpRequest): Promise<OpResult> {
    try {
      this.runNow(req);
      return DONE;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Every operation completes as it is called. */
  runNow(req: OpRequest): true {
    if (this.closed) throw new Error(`${OP_DISPLAY_NAMES[req.op]}: the process group was destroyed`);
    if (this.aborted) throw withMessage(this.aborted, `${OP_DISPLAY_NAMES[req.op]} not started: the group failed earlier and must be re-formed (${this.aborted.message})`);
    validateRequest(req, 0, 1);
    this.seq++;
    if (req.op === "reduceScatter" || req.op === "allGather") req.output.set(req.input);
    return true;
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  abort(reason: string): void {
    this.aborted ??= new GroupAbortedError(`rank ${this.rankName} aborted its one-rank group: ${reason}; build a new group to go on`, { op: "none", seq: this.seq, ranks: [] });
  }

  failure(): CollectiveError | undefined {
    return this.aborted;
  }

  /** Nothing moves between ranks: there is no other rank. */
  traffic(): Traffic {
    return { sent: 0, received: 0 };
  }
}
