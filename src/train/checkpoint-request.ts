// "Write a checkpoint now", the worker's side: the fit loop hears of a request (the launcher
// writes control.json in the run folder and sends SIGUSR2) and saves at the step it names, the
// same step on every worker (Note [checkpoint now] in distributed/launch/checkpoint-request.ts).
//
// Nothing is read per step: the file is read in the signal's handler, and the loop only compares
// its step with the one asked for. The handler is installed once per process and stays for the
// process's life, because SIGUSR2 ends a Node process that has none, and the launcher may send
// one a moment after a fit() returned (the worker is still evaluating or writing its result):
// between fit() calls the signal is ignored.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  CHECKPOINT_REQUEST_EVENT, CONTROL_FILE, checkpointListenerFile,
  type CheckpointListener, type CheckpointOutcome, type CheckpointRequest,
} from "../distributed/launch/checkpoint-request.js";

/** The fit() that hears SIGUSR2 now, if any. */
let current: CheckpointRequests | undefined;
let installed = false;

export interface CheckpointRequestsOptions {
  runDir: string;
  /** The worker's rank as the launcher started it (WEFT_RANK), which names its files. */
  rank: number;
  destination: CheckpointListener["destination"];
  /** The step the loop starts from (a resumed run's). */
  step: number;
  /** Writes an event line into this worker's metrics (rank-<r>.jsonl). */
  write: (event: { event: string; step: number; [field: string]: unknown }) => void;
  /** A line worth a person's attention (a control.json that cannot be read). */
  warn: (line: string) => void;
}

/** One fit() call's checkpoint requests. */
export class CheckpointRequests {
  private pending: { id: string; step: number } | undefined;
  private seen = new Set<string>();
  private checkedThrough: number;

  private constructor(private readonly o: CheckpointRequestsOptions) {
    this.checkedThrough = o.step;
  }

  /** Starts listening (SIGUSR2), then tells the launcher so (checkpoint-listener-<rank>.json). */
  static listen(o: CheckpointRequestsOptions): CheckpointRequests {
    const requests = new CheckpointRequests(o);
    current = requests;
    if (!installed) {
      installed = true;
      process.on("SIGUSR2", () => current?.heard());
    }
    // After the handler: once this file names our pid, a signal can no longer end the process.
    const listener: CheckpointListener = { pid: process.pid, destination: o.destination };
    try {
      writeFileSync(checkpointListenerFile(o.runDir, o.rank), `${JSON.stringify(listener)}\n`);
    } catch (err) {
      o.warn(`cannot write ${checkpointListenerFile(o.runDir, o.rank)}: ${(err as Error).message}; checkpoints on request (the dashboard's) are off for this worker`);
    }
    return requests;
  }

  /**
   * The loop after step `step`: true when a checkpoint was asked for at this step (or at one the
   * loop skipped, e.g. a step skipped for a non-finite loss). `writes`: this worker saves checkpoints.
   */
  reached(step: number, writes: boolean): boolean {
    this.checkedThrough = step;
    const p = this.pending;
    if (!p || step < p.step) return false;
    this.pending = undefined;
    this.answer(p, writes && this.o.destination !== null ? "saved" : "not_writer", step);
    return true;
  }

  /** The loop ended at `step`: a request for a later step is answered by the checkpoint written at the end. */
  close(step: number, writes: boolean): void {
    if (current === this) current = undefined;
    const p = this.pending;
    this.pending = undefined;
    if (p) this.answer(p, writes && this.o.destination !== null ? "after_end" : "not_writer", step);
    rmSync(checkpointListenerFile(this.o.runDir, this.o.rank), { force: true });
  }

  /** SIGUSR2: reads control.json (small, written whole by the launcher). */
  private heard(): void {
    let request: CheckpointRequest;
    try {
      request = JSON.parse(readFileSync(join(this.o.runDir, CONTROL_FILE), "utf8")) as CheckpointRequest;
      if (typeof request.id !== "string" || !Number.isInteger(request.checkpoint_at_step)) throw new Error("it has no id and checkpoint_at_step");
    } catch (err) {
      this.o.warn(`a checkpoint request came, but ${join(this.o.runDir, CONTROL_FILE)} cannot be read: ${(err as Error).message}; no checkpoint is written for it`);
      return;
    }
    if (this.seen.has(request.id)) return;
    this.seen.add(request.id);
    const asked = { id: request.id, step: request.checkpoint_at_step };
    // The loop has already decided about this step: saving later would not match the others.
    if (asked.step <= this.checkedThrough) return void this.answer(asked, "missed", this.checkedThrough);
    this.pending = asked;
  }

  private answer(p: { id: string; step: number }, outcome: CheckpointOutcome, step: number): void {
    this.o.write({ event: CHECKPOINT_REQUEST_EVENT, step, id: p.id, at_step: p.step, outcome });
  }
}
