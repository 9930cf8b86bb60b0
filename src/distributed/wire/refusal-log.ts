// The log lines a listener writes about connections it refused, at most one per interval.
//
// A refusal after a quiet interval is written at once, naming the address and the reason, as a
// single refusal always was ("rank 1: refused connection from 10.0.0.7:51234: client could not
// prove it holds the job secret"), so an operator debugging a misconfigured node still sees why.
// Refusals that follow within the interval are only counted, and one line at the interval's end
// sums them up by reason with the latest as a sample. A stranger opening thousands of connections
// therefore costs one line a second, not one line per connection (issue 12, item 7: 4,000 held
// connections used to write 20,527 lines).
import type { Logger } from "../base/log.js";

/** Why an unauthenticated connection was closed (Note [pending connections] in listener.ts). */
export type RefusalReason = "full" | "cap" | "handshake" | "deadline";

export interface RefusalLogOptions {
  /** Names the listener, e.g. "store" or "rank 2". */
  label: string;
  log: Logger;
  /** At most one line per this many milliseconds. */
  intervalMs: number;
  /** The listener's cap and deadline, for the summary's wording. */
  maxPending: number;
  handshakeDeadlineMs: number;
  /** Clock in milliseconds (tests inject one). */
  now?: () => number;
  /** Runs `fn` after `ms`; returns a cancel function (tests inject one). */
  schedule?: (fn: () => void, ms: number) => () => void;
}

function realSchedule(fn: () => void, ms: number): () => void {
  const t = setTimeout(fn, ms);
  // A pending summary must not keep a finished process alive.
  t.unref();
  return () => clearTimeout(t);
}

export class RefusalLog {
  private readonly now: () => number;
  private readonly schedule: (fn: () => void, ms: number) => () => void;
  private lastLineAt = -Infinity;
  private counts: Record<RefusalReason, number> = { full: 0, cap: 0, handshake: 0, deadline: 0 };
  private latest = "";
  private cancel: (() => void) | undefined;

  constructor(private readonly o: RefusalLogOptions) {
    this.now = o.now ?? Date.now;
    this.schedule = o.schedule ?? realSchedule;
  }

  /** One refused connection from `from` (host:port), for `reason`, with the error's message. */
  refused(reason: RefusalReason, from: string, message: string): void {
    const now = this.now();
    if (this.cancel === undefined && now - this.lastLineAt >= this.o.intervalMs) {
      this.o.log(`${this.o.label}: refused connection from ${from}: ${message}`);
      this.lastLineAt = now;
      return;
    }
    this.counts[reason]++;
    this.latest = `${from}: ${message}`;
    this.cancel ??= this.schedule(() => this.flush(), this.lastLineAt + this.o.intervalMs - now);
  }

  /** Writes the summary of what was counted since the last line, if anything; no further lines are held back. */
  flush(): void {
    this.cancel?.();
    this.cancel = undefined;
    const { full, cap, handshake, deadline } = this.counts;
    const n = full + cap + handshake + deadline;
    if (n === 0) return;
    const now = this.now();
    const seconds = ((now - this.lastLineAt) / 1000).toFixed(1);
    if (n === 1) {
      this.o.log(`${this.o.label}: refused connection from ${this.latest}`);
    } else {
      const parts: string[] = [];
      if (full > 0) parts.push(`${full} closed on arrival while ${this.o.maxPending} were authenticating`);
      if (cap > 0) parts.push(`${cap} evicted at the cap of ${this.o.maxPending} authenticating`);
      if (handshake > 0) parts.push(`${handshake} failed the handshake`);
      if (deadline > 0) parts.push(`${deadline} past the ${this.o.handshakeDeadlineMs} ms deadline`);
      this.o.log(`${this.o.label}: refused ${n} unauthenticated connections in the last ${seconds} s (${parts.join(", ")}); the latest from ${this.latest}`);
    }
    this.lastLineAt = now;
    this.counts = { full: 0, cap: 0, handshake: 0, deadline: 0 };
    this.latest = "";
  }
}
