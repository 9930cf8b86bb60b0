// One operation at a time, in submission order, for the executors that run some operations
// inline on the calling thread and hand others to the comm thread (shm-executor.ts,
// fast-executor.ts): an operation submitted while others are in flight starts once they settled.
import type { OpResult } from "../collectives/ops.js";

export class OpChain {
  private inFlight = 0;
  private tail: Promise<void> = Promise.resolve();

  /** Whether nothing is in flight, so an operation may run now, inline. */
  get idle(): boolean {
    return this.inFlight === 0;
  }

  /** Settles once everything enqueued so far has (never rejects). */
  drained(): Promise<void> {
    return this.tail;
  }

  /** Runs `start` now when idle, else after everything before it settled; `onError` sees its failure first. */
  enqueue(start: () => Promise<OpResult>, onError: (err: Error) => void): Promise<OpResult> {
    const started = this.inFlight === 0 ? start() : this.tail.then(start, start);
    this.inFlight++;
    const done = started.then(
      (result) => {
        this.inFlight--;
        return result;
      },
      (err: Error) => {
        this.inFlight--;
        onError(err);
        throw err;
      },
    );
    this.tail = done.then(() => {}, () => {});
    return done;
  }
}
