// What the dashboard knows about one run, built line by line from the run folder (run-tail.ts)
// and kept small: a run of a million steps must not grow the launcher's memory by a million
// points. Each worker's curve keeps at most MAX_POINTS points (past that, every other one goes
// and only every second new step is kept, and so on: the curve keeps its shape at any length);
// the step-time split is a mean over the last SPLIT_STEPS steps; the timeline keeps the newest
// MAX_TIMELINE entries. The browser gets a snapshot when it connects and, every tick, a delta of
// what changed (Note [dashboard updates]).
import { isAbsolute, relative } from "node:path";
import { StragglerTracker, type StragglerScore } from "../distributed/metrics/straggler.js";
import type { JobConfig } from "../distributed/launch/job-observer.js";
import type { TailRecord, TailSource } from "./run-tail.js";

// Note [dashboard updates]
// The server does no drawing: it sends numbers and the page draws them (Vega-Lite in the
// browser). A point is [step, time ms, loss, samples/s] (null where a line lacked the field). A
// snapshot holds everything; a delta holds the points kept and the timeline entries added since
// the previous delta, and the per-worker table, the straggler ranking, the configuration and the
// end whenever they changed. The page halves a curve past MAX_POINTS as the server does, so the
// two stay about the same size.

/** Points each worker's curve keeps. */
export const MAX_POINTS = 1500;
/** Steps the compute/communication/waiting split averages over. */
const SPLIT_STEPS = 20;
/** Timeline entries kept. */
const MAX_TIMELINE = 1000;

export type Point = [step: number, time: number, loss: number | null, samplesPerS: number | null];

export interface WorkerView {
  rank: number;
  pid: number | null;
  /** running, exited (0), failed (non-zero), or unknown (no launcher events: an older run). */
  status: "running" | "exited" | "failed" | "unknown";
  how: string | null;
  member: string | null;
  step: number | null;
  loss: number | null;
  samples_per_s: number | null;
  bytes_sent: number | null;
  bytes_received: number | null;
  /** Means over the last SPLIT_STEPS steps. */
  compute_ms: number | null;
  comm_ms: number | null;
  wait_ms: number | null;
  /** Points of its curve kept. */
  points: number;
}

export interface TimelineEntry {
  time: number;
  kind: "job" | "started" | "exited" | "failed" | "lost" | "joined" | "generation" | "replaced" | "checkpoint" | "resumed" | "stopping" | "ended" | "control" | "excluded" | "straggler";
  text: string;
  rank?: number;
  /** The training step it happened at, where one is known. */
  step?: number;
}

export interface StragglerView {
  ranking: StragglerScore[];
  named: StragglerScore | null;
}

export interface RunEnd {
  time: number;
  exit_code: number;
  error?: string;
}

export interface RunSnapshot {
  title: string;
  config: JobConfig | null;
  /** The training job handed to `weft train`'s workers (its one argument), when it is one. */
  train: Readonly<Record<string, unknown>> | null;
  started_at: number | null;
  workers: WorkerView[];
  points: Record<string, Point[]>;
  timeline: TimelineEntry[];
  straggler: StragglerView;
  ended: RunEnd | null;
}

export interface RunDelta {
  points: Record<string, Point[]>;
  timeline: TimelineEntry[];
  workers?: WorkerView[];
  straggler?: StragglerView;
  config?: JobConfig;
  train?: Readonly<Record<string, unknown>>;
  started_at?: number;
  ended?: RunEnd;
}

interface WorkerState {
  view: WorkerView;
  points: Point[];
  /** Keep one step line in this many. */
  stride: number;
  seen: number;
  split: { compute: number; comm: number; wait: number }[];
}

const num = (x: unknown): number | null => (typeof x === "number" && Number.isFinite(x) ? x : null);
const mean = (xs: number[]): number | null => (xs.length === 0 ? null : Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 100) / 100);

export class RunState {
  private config: JobConfig | null = null;
  private train: Readonly<Record<string, unknown>> | null = null;
  private startedAt: number | null = null;
  private readonly workers = new Map<number, WorkerState>();
  private timeline: TimelineEntry[] = [];
  private readonly seenEvents = new Set<string>();
  private readonly stragglers = new StragglerTracker();
  private straggler: StragglerView = { ranking: [], named: null };
  /** The rank named straggler at the newest counted step, for the timeline's "from step s" entries. */
  private namedRank: number | null = null;
  private ended: RunEnd | null = null;
  // What the next delta carries.
  private newPoints: Record<string, Point[]> = {};
  private newTimeline: TimelineEntry[] = [];
  private workersChanged = false;
  private stragglerChanged = false;
  private configChanged = false;
  private endChanged = false;

  constructor(private readonly title: string) {}

  /** One line of the run folder. */
  add(source: TailSource, r: TailRecord): void {
    if (source.kind === "launcher") this.addLauncherEvent(r);
    else if (typeof r.event === "string") this.addWorkerEvent(source.rank, r);
    else this.addStep(source.rank, r);
  }

  snapshot(): RunSnapshot {
    return {
      title: this.title, config: this.config, train: this.train, started_at: this.startedAt,
      workers: this.workerViews(),
      points: Object.fromEntries([...this.workers].map(([rank, w]) => [String(rank), w.points])),
      timeline: this.timeline, straggler: this.straggler, ended: this.ended,
    };
  }

  /** What changed since the last call, or undefined when nothing did. */
  takeDelta(): RunDelta | undefined {
    if (this.workersChanged) this.refreshStraggler();
    const changed = Object.keys(this.newPoints).length > 0 || this.newTimeline.length > 0 || this.workersChanged || this.stragglerChanged || this.configChanged || this.endChanged;
    if (!changed) return undefined;
    const d: RunDelta = {
      points: this.newPoints, timeline: this.newTimeline,
      ...(this.workersChanged ? { workers: this.workerViews() } : {}),
      ...(this.stragglerChanged ? { straggler: this.straggler } : {}),
      ...(this.configChanged && this.config ? { config: this.config, ...(this.train ? { train: this.train } : {}), ...(this.startedAt === null ? {} : { started_at: this.startedAt }) } : {}),
      ...(this.endChanged && this.ended ? { ended: this.ended } : {}),
    };
    this.newPoints = {};
    this.newTimeline = [];
    this.workersChanged = this.stragglerChanged = this.configChanged = this.endChanged = false;
    return d;
  }

  private worker(rank: number): WorkerState {
    let w = this.workers.get(rank);
    if (!w) {
      w = {
        view: {
          rank, pid: null, status: "unknown", how: null, member: null, step: null, loss: null, samples_per_s: null,
          bytes_sent: null, bytes_received: null, compute_ms: null, comm_ms: null, wait_ms: null, points: 0,
        },
        points: [], stride: 1, seen: 0, split: [],
      };
      this.workers.set(rank, w);
    }
    this.workersChanged = true;
    return w;
  }

  private workerViews(): WorkerView[] {
    return [...this.workers.values()].sort((a, b) => a.view.rank - b.view.rank).map((w) => {
      const split = w.split;
      return {
        ...w.view, points: w.points.length,
        compute_ms: mean(split.map((s) => s.compute)), comm_ms: mean(split.map((s) => s.comm)), wait_ms: mean(split.map((s) => s.wait)),
      };
    });
  }

  private addStep(rank: number, r: TailRecord): void {
    const step = num(r.step);
    if (step === null || step < 0) return;
    const w = this.worker(rank);
    const v = w.view;
    v.step = step;
    v.loss = num(r.loss) ?? v.loss;
    v.samples_per_s = num(r.samples_per_s) ?? v.samples_per_s;
    v.bytes_sent = num(r.bytes_sent) ?? v.bytes_sent;
    v.bytes_received = num(r.bytes_received) ?? v.bytes_received;
    if (v.status === "unknown" && this.config !== null) v.status = "running";
    w.split.push({ compute: num(r.compute_ms) ?? 0, comm: num(r.comm_ms) ?? 0, wait: num(r.wait_ms) ?? 0 });
    if (w.split.length > SPLIT_STEPS) w.split.shift();
    if (r.wait_for !== null && typeof r.wait_for === "object") this.addWaits(rank, step, r.wait_for as Readonly<Record<string, number>>, num(r.time) ?? Date.now());

    if (w.seen++ % w.stride !== 0) return;
    const p: Point = [step, num(r.time) ?? 0, num(r.loss), num(r.samples_per_s)];
    w.points.push(p);
    (this.newPoints[String(rank)] ??= []).push(p);
    if (w.points.length > MAX_POINTS) {
      w.points = w.points.filter((_, i) => i % 2 === 0);
      w.stride *= 2;
    }
  }

  /** Feeds the straggler score; the step a rank is first named (or no longer is) goes on the timeline. */
  private addWaits(rank: number, step: number, waitFor: Readonly<Record<string, number>>, time: number): void {
    this.stragglers.add(rank, step, waitFor);
    const named = this.stragglers.straggler();
    const namedRank = named?.rank ?? null;
    if (namedRank === this.namedRank) return;
    const before = this.namedRank;
    this.namedRank = namedRank;
    if (named) {
      this.note({ time, kind: "straggler", rank: named.rank, step, text: `worker ${named.rank} is the straggler from step ${step}: the others wait ${named.score_ms.toFixed(1)} ms per step for it` });
    } else if (before !== null) {
      this.note({ time, kind: "straggler", rank: before, step, text: `worker ${before} is no longer the straggler from step ${step}` });
    }
  }

  private refreshStraggler(): void {
    const ranking = this.stragglers.ranking().map((s) => ({ ...s, score_ms: Math.round(s.score_ms * 100) / 100 }));
    const named = this.stragglers.straggler();
    const next: StragglerView = { ranking, named: named ? { ...named, score_ms: Math.round(named.score_ms * 100) / 100 } : null };
    if (JSON.stringify(next) !== JSON.stringify(this.straggler)) {
      this.straggler = next;
      this.stragglerChanged = true;
    }
  }

  private note(entry: TimelineEntry, key?: string): void {
    if (key !== undefined) {
      if (this.seenEvents.has(key)) return;
      this.seenEvents.add(key);
    }
    this.timeline.push(entry);
    this.newTimeline.push(entry);
    if (this.timeline.length > MAX_TIMELINE) this.timeline = this.timeline.slice(-MAX_TIMELINE);
  }

  private addLauncherEvent(r: TailRecord): void {
    const time = num(r.time) ?? Date.now();
    const rank = num(r.rank);
    switch (r.event) {
      case "job_started": {
        const config = r.config as JobConfig | undefined;
        if (!config || typeof config !== "object") return;
        if (this.config === null) {
          // The run folder as the person who started the job typed it: relative to where they
          // are, when it lies below (the page shows this; the absolute path is in the events).
          const below = relative(process.cwd(), config.run_dir);
          this.config = below && !below.startsWith("..") && !isAbsolute(below) ? { ...config, run_dir: below } : config;
          this.startedAt = time;
          this.train = trainJobOf(config.args);
          this.configChanged = true;
        }
        this.note({ time, kind: "job", text: `job ${config.job_id} started on node ${config.node_rank}: ${config.nproc} worker(s) here, ${config.world_size} in all${config.elastic ? ` (elastic, ${config.elastic.min} to ${config.elastic.max})` : ""}` });
        for (const w of this.workers.values()) if (w.view.status === "unknown") w.view.status = "running";
        return;
      }
      case "worker_started": {
        if (rank === null) return;
        const w = this.worker(rank);
        w.view.pid = num(r.pid);
        w.view.status = "running";
        w.view.member = typeof r.member === "string" ? r.member : null;
        this.note({ time, kind: "started", rank, text: `worker ${rank} started (pid ${w.view.pid ?? "none"}${w.view.member ? `, member ${w.view.member}` : ""})` });
        return;
      }
      case "worker_exited": {
        if (rank === null) return;
        const w = this.worker(rank);
        const status = num(r.status) ?? -1;
        w.view.status = status === 0 ? "exited" : "failed";
        w.view.how = typeof r.how === "string" ? r.how : null;
        this.note({ time, kind: status === 0 ? "exited" : "failed", rank, text: `worker ${rank} (pid ${num(r.pid) ?? "none"}) ${w.view.how ?? `exited with status ${status}`}` });
        return;
      }
      case "worker_replaced":
        if (rank === null) return;
        this.note({ time, kind: "replaced", rank, text: `worker ${rank} is replaced by worker ${num(r.by) ?? "?"} (a restart)` });
        return;
      case "job_stopping":
        this.note({ time, kind: "stopping", text: `the job is stopping: ${String(r.why ?? "")}` });
        return;
      case "job_ended": {
        const exitCode = num(r.exit_code) ?? -1;
        this.ended = { time, exit_code: exitCode, ...(typeof r.error === "string" ? { error: r.error } : {}) };
        this.endChanged = true;
        this.note({ time, kind: "ended", text: exitCode === 0 ? "the job finished" : `the job failed (exit code ${exitCode})${typeof r.error === "string" ? `: ${r.error}` : ""}` });
        return;
      }
      case "control":
        this.note({ time, kind: "control", text: `control ${String(r.action)} from ${String(r.from)}: ${r.ok === true ? "done" : "refused"}${r.why ? ` (${String(r.why)})` : ""}` });
        return;
    }
  }

  private addWorkerEvent(rank: number, r: TailRecord): void {
    const time = num(r.time) ?? Date.now();
    const gen = num(r.generation);
    switch (r.event) {
      case "checkpoint_written":
        this.note({ time, kind: "checkpoint", rank, text: `checkpoint at step ${num(r.step) ?? "?"} written (${String(r.path ?? "")})` }, `checkpoint:${String(r.step)}:${String(r.path)}`);
        return;
      case "resumed":
        this.note({ time, kind: "resumed", rank, text: `resumed from step ${num(r.step) ?? "?"}` }, `resumed:${String(r.step)}`);
        return;
      case "member_lost":
        this.note({ time, kind: "lost", text: `member ${String(r.member)} lost (generation ${gen ?? "?"})` }, `lost:${gen}:${String(r.member)}`);
        return;
      case "member_joined":
        this.note({ time, kind: "joined", text: `member ${String(r.member)} joined (generation ${gen ?? "?"})` }, `joined:${gen}:${String(r.member)}`);
        return;
      case "generation_formed": {
        const members = Array.isArray(r.members) ? r.members.map(String).join(", ") : "?";
        this.note({ time, kind: "generation", text: `generation ${gen ?? "?"} formed: ${members}` }, `generation:${gen}`);
        return;
      }
      case "excluded":
        this.note({ time, kind: "excluded", text: `member ${String(r.member)} left out of generation ${gen ?? "?"}` }, `excluded:${gen}:${String(r.member)}`);
        return;
      case "failure_seen":
        this.note({ time, kind: "failed", rank, text: `worker ${rank} saw a failure: ${String(r.error)} (ranks ${Array.isArray(r.ranks) ? r.ranks.join(", ") : "?"})` }, `failure:${gen}:${String(r.ranks)}`);
        return;
    }
  }
}

/** `weft train` hands its workers the job as one JSON argument: shown as the training configuration. */
function trainJobOf(args: readonly string[] | undefined): Readonly<Record<string, unknown>> | null {
  if (!Array.isArray(args) || args.length !== 1 || typeof args[0] !== "string" || !args[0].startsWith("{")) return null;
  try {
    const job = JSON.parse(args[0]) as unknown;
    return job !== null && typeof job === "object" && !Array.isArray(job) ? (job as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
