// The executor of a one-rank group: a script started without `weft launch` (group/init.ts), or a
// subgroup of one rank. With nobody else to meet, every collective is the identity and runs
// inline: no socket, no thread, no store, and the returned promise is already settled.
//
// Results are what an engine of one rank gives: all-reduce leaves the buffer as it is (a sum of one
// term; `avg` divides by 1, which changes no bits), reduce-scatter and all-gather copy the input
// into the output, broadcast and barrier do nothing. Point-to-point has no peer to name, so
// validateRequest refuses it with a RangeError, as it refuses a peer outside any group.
import type { OpRequest, OpResult } from "../collectives/ops.js";
import { OP_DISPLAY_NAMES } from "../collectives/ops.js";
import { validateRequest } from "../collectives/request.js";
import type { OpExecutor } from "./op-executor.js";
import type { Traffic } from "../base/traffic-counter.js";

const DONE: Promise<OpResult> = Promise.resolve();

export class SingleExecutor implements OpExecutor {
  private closed = false;

  submit(req: OpRequest): Promise<OpResult> {
    try {
      if (this.closed) throw new Error(`${OP_DISPLAY_NAMES[req.op]}: the process group was destroyed`);
      validateRequest(req, 0, 1);
      if (req.op === "reduceScatter" || req.op === "allGather") req.output.set(req.input);
      return DONE;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** Nothing moves between ranks: there is no other rank. */
  traffic(): Traffic {
    return { sent: 0, received: 0 };
  }
}
