// Who the job waits for. Every step line of a worker carries `wait_for`: how long that rank spent,
// inside the step's collectives, waiting for each peer to arrive (the flight recorder measures it
// per collective: diagnostics/flight-recorder.ts). A rank that is late makes every other rank
// wait for it, so the others' waits for a rank are its cost to the job; that is its score. The
// waits are each rank's own clock differences, never compared across machines, so clock skew
// does not enter.
//
// Note [straggler score]
// For a step s and a rank p, W_s(p) is the mean over the other ranks r of wait_for_r[p] (ms). A
// step counts once every rank it names (the writers and the peers in their wait_for) has
// reported it. score_ms(p) is the mean of W_s(p) over the last `window` counted steps. A rank is
// named the straggler when it has the largest score and had the largest W_s, by at least minMs,
// in at least `minSteps` of those steps: one slow step (a page fault, a checkpoint) names nobody,
// and a rank that is slow every step is named `minSteps` steps after it became slow. Not "in a
// row": on a machine short of CPU a fast rank is now and then descheduled and makes the others
// wait for it once, which would start a run of steps over again and name the true straggler late
// (a first version, measured at load 4-6: named at step 11-27 in a quarter of the runs).

export interface StragglerScore {
  rank: number;
  /** Mean over the recent window of steps: ms per step the other ranks waited for this rank (mean over them). */
  score_ms: number;
  /** Steps of the recent window in which this rank was the one waited for most (by at least minMs). */
  slowest_steps: number;
}

export interface StragglerOptions {
  /** Steps the score averages over (default 10). */
  window?: number;
  /** Steps of the window in which a rank must be the most waited-for before it is named (default 5). */
  minSteps?: number;
  /** Waits below this (ms per step) name nobody: a balanced job's noise (default 1). */
  minMs?: number;
}

/** W_s for one counted step: rank -> ms the others waited for it. */
type StepWaits = Map<number, number>;

/** Incomplete steps this far behind the newest counted one are given up (a rank left the job). */
const STALE_STEPS = 64;

/**
 * Scores ranks by how long the others wait for them, from the step lines' `wait_for`.
 *
 * @example Rank 1 comes 20 ms late to every step: it is named after three steps
 * ```ts
 * const t = new StragglerTracker({ minSteps: 3 });
 * for (const step of [1, 2, 3]) {
 *   t.add(0, step, { "1": 20 });   // rank 0 waited 20 ms for rank 1
 *   t.add(1, step, { "0": 0 });    // rank 1 did not wait for rank 0
 * }
 * assert.deepEqual(t.straggler(), { rank: 1, score_ms: 20, slowest_steps: 3 });
 * ```
 */
export class StragglerTracker {
  private readonly window: number;
  private readonly minSteps: number;
  private readonly minMs: number;
  /** step -> rank -> that rank's wait_for, until the step is counted. */
  private readonly pending = new Map<number, Map<number, Readonly<Record<string, number>>>>();
  /** The last `window` counted steps, oldest first. */
  private readonly counted: { step: number; waits: StepWaits }[] = [];
  private newestCounted = -Infinity;

  constructor(options: StragglerOptions = {}) {
    this.window = Math.max(1, options.window ?? 10);
    this.minSteps = Math.min(this.window, Math.max(1, options.minSteps ?? 5));
    this.minMs = options.minMs ?? 1;
  }

  /** One step line of one rank (its `step`, `rank` and `wait_for`). Lines may come in any order. */
  add(rank: number, step: number, waitFor: Readonly<Record<string, number>>): void {
    if (step <= this.newestCounted - STALE_STEPS) return;
    let m = this.pending.get(step);
    if (!m) this.pending.set(step, (m = new Map()));
    m.set(rank, waitFor);
    const named = new Set<number>(m.keys());
    for (const w of m.values()) for (const k of Object.keys(w)) named.add(Number(k));
    if ([...named].every((r) => m!.has(r))) this.count(step, m);
  }

  private count(step: number, lines: Map<number, Readonly<Record<string, number>>>): void {
    this.pending.delete(step);
    const waits: StepWaits = new Map();
    for (const p of lines.keys()) {
      let sum = 0;
      let n = 0;
      for (const [r, w] of lines) {
        if (r === p) continue;
        sum += w[String(p)] ?? 0;
        n++;
      }
      waits.set(p, n === 0 ? 0 : sum / n);
    }
    this.counted.push({ step, waits });
    this.counted.sort((a, b) => a.step - b.step);
    while (this.counted.length > this.window) this.counted.shift();
    this.newestCounted = Math.max(this.newestCounted, step);
    for (const s of this.pending.keys()) if (s <= this.newestCounted - STALE_STEPS) this.pending.delete(s);
  }

  /** Every rank of the counted steps, most waited-for first. */
  ranking(): StragglerScore[] {
    const recent = this.counted;
    const ranks = new Set<number>();
    for (const c of recent) for (const r of c.waits.keys()) ranks.add(r);
    const scores = [...ranks].map((rank) => {
      const xs = recent.map((c) => c.waits.get(rank) ?? 0);
      return { rank, score_ms: xs.reduce((a, b) => a + b, 0) / xs.length, slowest_steps: this.slowestSteps(rank) };
    });
    return scores.sort((a, b) => b.score_ms - a.score_ms || a.rank - b.rank);
  }

  /** The rank with the largest score, when it was the most waited-for in at least `minSteps` of the window's steps; else undefined. */
  straggler(): StragglerScore | undefined {
    const top = this.ranking()[0];
    return top && top.slowest_steps >= this.minSteps ? top : undefined;
  }

  /** Counted steps of the window in which `rank` had the largest W_s, by at least minMs. */
  private slowestSteps(rank: number): number {
    let n = 0;
    for (const { waits } of this.counted) {
      const mine = waits.get(rank) ?? 0;
      if (mine < this.minMs) continue;
      let top = true;
      for (const [r, x] of waits) if (r !== rank && x >= mine) top = false;
      if (top) n++;
    }
    return n;
  }
}
