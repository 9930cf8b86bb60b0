// What the launcher tells the world about a job while it runs: its events, one JSON line each in
// the run folder's launcher-<node>.jsonl (written for every job, so a finished run can be shown
// later), and the same events handed to a JobObserver, the hook through which a layer above the
// launcher (the dashboard) follows the job without the launcher importing it.
//
// Note [launcher events]
// The workers' rank-<r>.jsonl say what each worker trained; only the launcher knows which
// processes it started, how each ended and why the job stopped. Those facts go to
// launcher-<node>.jsonl as they happen: `job_started` (the job's configuration, never its
// secret), `worker_started` {rank, pid}, `worker_exited` {rank, pid, status, how},
// `worker_replaced` {rank, by} (elastic), `job_stopping` {why}, `job_ended` {exit_code},
// `control` {action, from, ok, why} (a request to the dashboard's control endpoints) and
// `straggler` {rank, score_ms, step} each time another rank is named the straggler. Writing
// them can never stop a job: a write that fails is reported once and the job goes on.
import { closeSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";

/** The job as `job_started` records it (no secret). */
export interface JobConfig {
  job_id: string;
  run_dir: string;
  node_rank: number;
  nproc: number;
  nnodes: number;
  world_size: number;
  script: string;
  args: readonly string[];
  elastic?: { min: number; max: number; maxRestarts: number };
}

/** One line of launcher-<node>.jsonl (Note [launcher events]). */
export type LauncherEvent =
  | { time: number; event: "job_started"; config: JobConfig }
  | { time: number; event: "worker_started"; rank: number; pid: number | undefined; member?: string }
  | { time: number; event: "worker_exited"; rank: number; pid: number | undefined; status: number; how: string }
  | { time: number; event: "worker_replaced"; rank: number; by: number }
  | { time: number; event: "job_stopping"; why: string }
  | { time: number; event: "job_ended"; exit_code: number; error?: string }
  | { time: number; event: "control"; action: string; from: string; ok: boolean; why: string }
  /** The rank the others wait for, whenever another one is named (Note [straggler score] in metrics/straggler.ts). */
  | { time: number; event: "straggler"; rank: number; score_ms: number; step: number };

/** A LauncherEvent before its time is stamped. */
export type LauncherEventBody = LauncherEvent extends infer E ? (E extends LauncherEvent ? Omit<E, "time"> : never) : never;

/** The running job, as the launcher hands it to its observer. */
export interface RunningJob {
  jobId: string;
  runDir: string;
  /** The job secret: the dashboard's control endpoints check requests against it. */
  secret: string;
  nproc: number;
  nnodes: number;
  worldSize: number;
  script: string;
  args: readonly string[];
  startedAt: number;
  elastic?: { min: number; max: number; maxRestarts: number };
  /** Stops the job as Ctrl-C would; `why` is logged and becomes a job_stopping event. */
  stop(why: string): void;
  /** Asks every worker to write a checkpoint at one common step (Note [checkpoint now] in checkpoint-request.ts). */
  requestCheckpoint(from: string): { ok: boolean; message: string };
  /** Records a `control` event (a control request, allowed or refused) in launcher-<node>.jsonl. */
  recordControl(action: string, from: string, ok: boolean, why: string): void;
}

export interface JobObserver {
  /** Called once the run folder exists and the workers are being started. */
  jobStarted(job: RunningJob): void;
  /** Every launcher event, as written to launcher-<node>.jsonl. */
  event(e: LauncherEvent): void;
  /** Called after the job ended, before launchJob returns; may keep serving until it resolves (it must not wait for a person). */
  jobEnded(exitCode: number): Promise<void>;
}

/** The launcher events file of a node, in its run folder. */
export function launcherEventsFile(runDir: string, nodeRank: number): string {
  return join(runDir, `launcher-${nodeRank}.jsonl`);
}

/**
 * Writes launcher events to launcher-<node>.jsonl and hands them to the observer; neither a failed
 * write nor an observer that throws reaches the launcher (Note [launcher events]).
 *
 * @example Every event is one line in the file and one call of the observer
 * ```ts
 * import { mkdtempSync, readFileSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * const dir = mkdtempSync(join(tmpdir(), "weft-events-"));
 * const seen: string[] = [];
 * const log = new LauncherEventLog(dir, 0, { jobStarted() {}, event: (e) => void seen.push(e.event), jobEnded: async () => {} }, () => {});
 * log.record({ event: "job_stopping", why: "received SIGINT" });
 * log.close();
 * assert.deepEqual(seen, ["job_stopping"]);
 * assert.match(readFileSync(join(dir, "launcher-0.jsonl"), "utf8"), /"event":"job_stopping","why":"received SIGINT"/);
 * ```
 */
export class LauncherEventLog {
  readonly path: string;
  private fd: number | undefined;
  private failed = false;

  constructor(
    runDir: string,
    nodeRank: number,
    private readonly observer: JobObserver | undefined,
    private readonly log: (message: string) => void,
  ) {
    this.path = launcherEventsFile(runDir, nodeRank);
    try {
      this.fd = openSync(this.path, "a");
    } catch (err) {
      this.fail(err as Error);
    }
  }

  record(body: LauncherEventBody): void {
    const e = { time: Date.now(), ...body } as LauncherEvent;
    if (this.fd !== undefined) {
      try {
        // One write call per line, so a reader never sees half a line followed by another's.
        writeSync(this.fd, `${JSON.stringify(e)}\n`);
      } catch (err) {
        this.fail(err as Error);
      }
    }
    this.notify(() => this.observer?.event(e));
  }

  /** Calls the observer; an observer's bug is reported, not thrown into the launcher. */
  notify(call: () => void): void {
    try {
      call();
    } catch (err) {
      this.log(`the job's observer failed: ${(err as Error).message}; the job goes on without it`);
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.log(`cannot write the launcher's events to ${this.path}: ${err.message}; the job goes on, but \`weft dashboard\` will not show its workers' starts and ends`);
  }
}
