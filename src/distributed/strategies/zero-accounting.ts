// What a ZeRO rank measures about itself: bytes held (now and at most) for the memory report, and
// where the step's communication time went, for the metrics stream.
import type { Work } from "../group/process-group.js";

/** Bytes held for one purpose: the current amount and the most held at once. */
export class ByteGauge {
  now = 0;
  peak = 0;

  add(bytes: number): void {
    this.now += bytes;
    if (this.now > this.peak) this.peak = this.now;
  }

  sub(bytes: number): void {
    this.now -= bytes;
  }
}

/**
 * The step's communication: `spanMs` from the first collective started to the last one awaited,
 * `waitMs` the time the step was blocked on them, counting the time inside a start call (where a
 * shared-memory group runs the whole collective inline).
 */
export class CommClock {
  private first = NaN;
  private last = NaN;
  waitMs = 0;

  reset(): void {
    this.first = this.last = NaN;
    this.waitMs = 0;
  }

  start(submit: () => Work): Work {
    const t = performance.now();
    if (Number.isNaN(this.first)) this.first = t;
    const work = submit();
    this.waitMs += performance.now() - t;
    return work;
  }

  async wait(works: readonly Work[]): Promise<void> {
    const t = performance.now();
    await Promise.all(works.map((w) => w.wait()));
    const done = performance.now();
    this.waitMs += done - t;
    this.last = done;
  }

  spanMs(): number {
    return Number.isNaN(this.first) || Number.isNaN(this.last) ? 0 : Math.max(0, this.last - this.first);
  }
}
