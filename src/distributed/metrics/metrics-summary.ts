// The launcher's view of the job's metrics: it tails every rank-<r>.jsonl in the run directory,
// prints one line for the newest step that every rank has reported, and a short summary at the end.
// Both name the straggler once one is clear: the rank the others have waited for most in each of
// the last few steps, with how long they wait for it (Note [straggler score] in straggler.ts).
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import type { StepMetrics } from "./metrics-writer.js";
import { StragglerTracker, type StragglerScore } from "./straggler.js";

interface Tail {
  offset: number;
  partial: string;
}

type Record_ = StepMetrics & { rank: number };

function mean(xs: number[]): number | undefined {
  return xs.length === 0 ? undefined : xs.reduce((a, b) => a + b, 0) / xs.length;
}

function fmt(x: number | undefined, digits: number): string {
  return x === undefined ? "-" : x.toFixed(digits);
}

export class MetricsSummary {
  private readonly tails = new Map<string, Tail>();
  /** step -> rank -> record */
  private readonly steps = new Map<number, Map<number, Record_>>();
  private lastPrinted = -1;
  // Running totals for the final summary (the files may hold millions of lines).
  private readonly stepsSeen = new Set<number>();
  private readonly stepsWithSamples = new Set<number>();
  private lastStep = -1;
  private lastLosses = new Map<number, number>();
  private readonly sums = { samples_per_s: 0, compute_ms: 0, comm_ms: 0, wait_ms: 0 };
  private readonly counts = { samples_per_s: 0, compute_ms: 0, comm_ms: 0, wait_ms: 0 };
  private readonly stragglers = new StragglerTracker();
  /** The straggler named most recently, if any was. */
  private lastStraggler: StragglerScore | undefined;

  constructor(
    private readonly runDir: string,
    /** Ranks whose files are expected here (the local workers). */
    private readonly ranks: number,
  ) {}

  /** Reads what the workers appended since the last call. */
  poll(): void {
    if (!existsSync(this.runDir)) return;
    for (const name of readdirSync(this.runDir)) {
      if (!/^rank-\d+\.jsonl$/.test(name)) continue;
      const path = join(this.runDir, name);
      const t = this.tails.get(path) ?? { offset: 0, partial: "" };
      this.tails.set(path, t);
      const size = statSync(path).size;
      if (size <= t.offset) continue;
      const buf = Buffer.alloc(size - t.offset);
      const fd = openSync(path, "r");
      try {
        readSync(fd, buf, 0, buf.length, t.offset);
      } finally {
        closeSync(fd);
      }
      t.offset = size;
      const lines = (t.partial + buf.toString("utf8")).split("\n");
      t.partial = lines.pop()!;
      for (const line of lines) this.add(line);
    }
  }

  private add(line: string): void {
    let r: Record_;
    try {
      r = JSON.parse(line) as Record_;
    } catch {
      return; // a worker's own line that is not ours to judge
    }
    // Events (evaluations, generations formed, checkpoints written) are not steps.
    if (typeof r.step !== "number" || typeof r.rank !== "number" || r.event !== undefined) return;
    let m = this.steps.get(r.step);
    if (!m) this.steps.set(r.step, (m = new Map()));
    m.set(r.rank, r);
    this.stepsSeen.add(r.step);
    if (typeof r.wait_for === "object" && r.wait_for !== null) {
      this.stragglers.add(r.rank, r.step, r.wait_for as Record<string, number>);
      this.lastStraggler = this.stragglers.straggler() ?? this.lastStraggler;
    }
    for (const k of Object.keys(this.sums) as (keyof typeof this.sums)[]) {
      const v = r[k];
      if (typeof v !== "number") continue;
      this.sums[k] += v;
      this.counts[k]++;
      if (k === "samples_per_s") this.stepsWithSamples.add(r.step);
    }
    if (r.step > this.lastStep) {
      this.lastStep = r.step;
      this.lastLosses = new Map();
    }
    if (r.step === this.lastStep && typeof r.loss === "number") this.lastLosses.set(r.rank, r.loss);
  }

  /** The summary line of the newest step all ranks have reported since the last call, if any. */
  nextLine(): string | undefined {
    const complete = [...this.steps.entries()].filter(([s, m]) => s > this.lastPrinted && m.size >= this.ranks).map(([s]) => s);
    if (complete.length === 0) return undefined;
    const step = Math.max(...complete);
    const recs = [...this.steps.get(step)!.values()];
    for (const s of [...this.steps.keys()]) if (s <= step) this.steps.delete(s);
    this.lastPrinted = step;
    return this.describeStep(step, recs);
  }

  private describeStep(step: number, recs: Record_[]): string {
    const num = (k: keyof StepMetrics): number[] => recs.map((r) => r[k]).filter((v): v is number => typeof v === "number");
    const samples = num("samples_per_s");
    const slowest = recs.reduce<Record_ | undefined>((a, r) => ((r.compute_ms ?? 0) > (a?.compute_ms ?? -1) ? r : a), undefined);
    return (
      `step ${step} | loss ${fmt(mean(num("loss")), 4)} | ${samples.length ? fmt(samples.reduce((a, b) => a + b, 0), 0) : "-"} samples/s | ` +
      `compute ${fmt(mean(num("compute_ms")), 1)} ms comm ${fmt(mean(num("comm_ms")), 1)} ms wait ${fmt(mean(num("wait_ms")), 1)} ms` +
      (slowest && recs.length > 1 && slowest.compute_ms !== undefined ? ` | slowest rank ${slowest.rank}` : "") +
      stragglerText(this.stragglers.straggler(), " | ")
    );
  }

  /** A short end-of-job summary, or undefined when no worker wrote metrics. */
  finalSummary(): string | undefined {
    if (this.stepsSeen.size === 0) return undefined;
    const avg = (k: keyof typeof this.sums): number | undefined => (this.counts[k] ? this.sums[k] / this.counts[k] : undefined);
    const jobSamples = this.stepsWithSamples.size ? this.sums.samples_per_s / this.stepsWithSamples.size : undefined;
    return (
      `${this.stepsSeen.size} steps, final loss ${fmt(mean([...this.lastLosses.values()]), 4)}, ${fmt(jobSamples, 0)} samples/s (job, mean over steps), ` +
      `per step: compute ${fmt(avg("compute_ms"), 1)} ms, comm ${fmt(avg("comm_ms"), 1)} ms, wait ${fmt(avg("wait_ms"), 1)} ms` +
      stragglerText(this.lastStraggler, "; ")
    );
  }

  /** The newest step any rank reported (-1 before the first). */
  get newestStep(): number {
    return this.lastStep;
  }

  /** The straggler named most recently (Note [straggler score]), if the job had one. */
  get straggler(): StragglerScore | undefined {
    return this.lastStraggler;
  }
}

/** "straggler rank 1 (the others wait 41.2 ms per step for it)", after `sep`; "" for none. */
function stragglerText(s: StragglerScore | undefined, sep: string): string {
  return s ? `${sep}straggler rank ${s.rank} (the others wait ${s.score_ms.toFixed(1)} ms per step for it)` : "";
}
