// The log lines the control endpoints write about requests they refused, at most one per interval.
//
// The same idea as the wire listener's refusal log (distributed/wire/refusal-log.ts): a refusal
// after a quiet interval is written at once, with the address and the reason, so a person whose
// script sends the wrong secret sees why at once; refusals that follow within the interval are
// only counted, and one line at the interval's end sums them up by reason, with the latest as a
// sample. A flood of 1,000 bad requests therefore writes a line a second, not 1,000 lines, and
// the launcher's terminal stays readable while training goes on.

export interface RefusalSummaryOptions {
  /** Names what refused, e.g. "dashboard control". */
  label: string;
  log: (line: string) => void;
  /** At most one line per this many milliseconds (default 1000). */
  intervalMs?: number;
  /** Clock in milliseconds (tests inject one). */
  now?: () => number;
  /** Runs `fn` after `ms`; returns a cancel function (tests inject one). */
  schedule?: (fn: () => void, ms: number) => () => void;
}

function realSchedule(fn: () => void, ms: number): () => void {
  const t = setTimeout(fn, ms);
  // A pending summary must not keep a finished launcher alive.
  t.unref();
  return () => clearTimeout(t);
}

/**
 * Counts refusals by reason and writes a bounded number of lines about them.
 *
 * @example Three refusals within a second: one line at once, one summary at the interval's end
 * ```ts
 * const lines: string[] = [];
 * let now = 0;
 * let pending: (() => void) | undefined;
 * const refusals = new RefusalSummary({ label: "control", log: (l) => void lines.push(l), now: () => now, schedule: (fn) => ((pending = fn), () => (pending = undefined)) });
 * refusals.refused("no secret", "127.0.0.1:5000", "POST /control/stop without the job secret");
 * refusals.refused("no secret", "127.0.0.1:5001", "POST /control/stop without the job secret");
 * refusals.refused("too large", "127.0.0.1:5002", "a body over 1024 bytes");
 * now = 1000;
 * pending!();
 * assert.equal(lines.length, 2);
 * assert.match(lines[1]!, /refused 2 requests in the last 1\.0 s \(1 no secret, 1 too large\)/);
 * ```
 */
export class RefusalSummary {
  private readonly now: () => number;
  private readonly schedule: (fn: () => void, ms: number) => () => void;
  private readonly intervalMs: number;
  private lastLineAt = -Infinity;
  private counts = new Map<string, number>();
  private latest = "";
  private cancel: (() => void) | undefined;
  /** Every refusal counted, written out or not (tests and the final report read it). */
  total = 0;

  constructor(private readonly o: RefusalSummaryOptions) {
    this.now = o.now ?? Date.now;
    this.schedule = o.schedule ?? realSchedule;
    this.intervalMs = o.intervalMs ?? 1000;
  }

  /** One refused request from `from` (host:port), for `reason` (a short phrase), with what was wrong. */
  refused(reason: string, from: string, message: string): void {
    this.total++;
    const now = this.now();
    if (this.cancel === undefined && now - this.lastLineAt >= this.intervalMs) {
      this.o.log(`${this.o.label}: refused a request from ${from}: ${message}`);
      this.lastLineAt = now;
      return;
    }
    // The map holds one entry per reason, and the reasons are a handful of fixed phrases.
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    this.latest = `${from}: ${message}`;
    this.cancel ??= this.schedule(() => this.flush(), Math.max(0, this.lastLineAt + this.intervalMs - now));
  }

  /** Writes the summary of what was counted since the last line, if anything. */
  flush(): void {
    this.cancel?.();
    this.cancel = undefined;
    let n = 0;
    for (const c of this.counts.values()) n += c;
    if (n === 0) return;
    const now = this.now();
    if (n === 1) {
      this.o.log(`${this.o.label}: refused a request from ${this.latest}`);
    } else {
      const parts = [...this.counts].map(([reason, c]) => `${c} ${reason}`).join(", ");
      const seconds = ((now - this.lastLineAt) / 1000).toFixed(1);
      this.o.log(`${this.o.label}: refused ${n} requests in the last ${seconds} s (${parts}); the latest from ${this.latest}`);
    }
    this.lastLineAt = now;
    this.counts = new Map();
    this.latest = "";
  }
}
