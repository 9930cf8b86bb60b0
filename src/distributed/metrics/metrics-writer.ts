// Per-step metrics of one worker, one JSON line per step in `${WEFT_RUN_DIR}/rank-<r>.jsonl`.
// The launcher tails these files for its live summary (metrics-summary.ts); the dashboard and
// any notebook can read them as they are.
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { ENV } from "../rendezvous/worker-env.js";

/** One step of one worker. The named fields are what the launcher summarises; add any others. */
export interface StepMetrics {
  step: number;
  loss?: number;
  /** Samples this worker processed per second during the step. */
  samples_per_s?: number;
  /** Time in forward/backward/optimizer. */
  compute_ms?: number;
  /** Time communication ran (overlapped or not). */
  comm_ms?: number;
  /** Time the step was blocked waiting on communication. */
  wait_ms?: number;
  [field: string]: unknown;
}

export interface MetricsWriterOptions {
  /** Default: WEFT_RUN_DIR (or the current directory). */
  runDir?: string;
  /** Default: WEFT_RANK (or 0). */
  rank?: number;
}

export class MetricsWriter {
  readonly path: string;
  readonly rank: number;
  private fd: number | undefined;

  constructor(options: MetricsWriterOptions = {}) {
    const runDir = options.runDir ?? process.env[ENV.runDir] ?? ".";
    this.rank = options.rank ?? Number(process.env[ENV.rank] ?? 0);
    mkdirSync(runDir, { recursive: true });
    this.path = join(runDir, `rank-${this.rank}.jsonl`);
    this.fd = openSync(this.path, "a");
  }

  /** Appends one line (`rank` and `time`, in ms since the epoch, are added). One write call, so lines never interleave. */
  write(metrics: StepMetrics): void {
    if (this.fd === undefined) throw new Error(`MetricsWriter for ${this.path} is closed`);
    writeSync(this.fd, `${JSON.stringify({ rank: this.rank, time: Date.now(), ...metrics })}\n`);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
