// "Write a checkpoint now", the launcher's side: the dashboard's POST /control/checkpoint asks
// the job for a checkpoint, and this picks the step every worker writes it at, tells them, and
// later records whether they did.
//
// Note [checkpoint now]
// A sharded (ZeRO) checkpoint is one file per worker, and the set is a checkpoint only if every
// file is of the same step; a DDP checkpoint is rank 0's alone, but a request must mean the same
// thing for both. So the workers are not told "now" (each would hear it at a different step) but
// "at step S": S is the furthest step any worker has reported in its rank-<r>.jsonl plus a margin
// of about MARGIN_MS at the job's current step rate (at least MIN_MARGIN_STEPS), written with a
// fresh id to <run dir>/control.json (written whole, then renamed into place). Then each worker
// is sent SIGUSR2; its fit loop reads control.json only then (no file is read per step) and
// saves through its usual checkpoint path at the first step >= S it reaches (train/
// checkpoint-request.ts). A worker that learns of S after it passed S cannot make the set
// whole: it writes a `checkpoint_request` event saying so (outcome "missed"), and so do the
// others with theirs ("saved", "not_writer", "after_end"), which this file follows until every
// worker has answered and records as the `control` event's outcome in launcher-<node>.jsonl.
//
// Only workers whose fit loop said it listens are signalled (their checkpoint-listener-<r>.json
// names their pid): SIGUSR2 ends a Node process that has no handler for it, so a worker that is
// not a fit() loop, or not started yet, must never get one. A job that spans machines is refused:
// this launcher can signal only its own workers (use --checkpoint-every there).
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

/** What control.json holds: the checkpoint every worker writes at `checkpoint_at_step`. */
export interface CheckpointRequest {
  id: string;
  checkpoint_at_step: number;
  from: string;
  time: number;
}

/** What a worker's fit loop writes when it listens for checkpoint requests (Note [checkpoint now]). */
export interface CheckpointListener {
  pid: number;
  /** Where its checkpoints go: a folder (--checkpoint-dir), one file (--checkpoint), or nowhere. */
  destination: "folder" | "file" | null;
}

/** How a worker met a request: wrote its part at the step, had nothing to write, passed the step before it heard, or ended before it. */
export type CheckpointOutcome = "saved" | "not_writer" | "missed" | "after_end";

export const CONTROL_FILE = "control.json";
export const CHECKPOINT_REQUEST_EVENT = "checkpoint_request";
export const checkpointListenerFile = (runDir: string, rank: number): string => join(runDir, `checkpoint-listener-${rank}.json`);

/** About this long at the current step rate lies between the furthest step seen and S. */
const MARGIN_MS = 2000;
const MIN_MARGIN_STEPS = 5;
/** The end of a rank's metrics file that is read for its steps and answers. */
const TAIL_BYTES = 64 * 1024;
const FOLLOW_MS = 500;

export interface CheckpointRequesterOptions {
  runDir: string;
  nnodes: number;
  log: (message: string) => void;
  /** Records the outcome once every worker answered (the launcher makes it a `control` event). */
  record: (ok: boolean, why: string) => void;
}

/** A worker the launcher runs now. */
export interface SignalledWorker {
  rank: number;
  pid: number | undefined;
  /** Sends it SIGUSR2. */
  signal(): void;
}

interface Outstanding {
  id: string;
  step: number;
  ranks: number[];
  answers: Map<number, { outcome: CheckpointOutcome; step: number }>;
}

/** The launcher's half of "write a checkpoint now" (Note [checkpoint now]). */
export class CheckpointRequester {
  private outstanding: Outstanding | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: CheckpointRequesterOptions) {}

  /** Asks `workers` (those running now) for a checkpoint at one common step; answers at once, in one line. */
  request(from: string, workers: readonly SignalledWorker[]): { ok: boolean; message: string } {
    if (this.o.nnodes > 1) return { ok: false, message: `a checkpoint on request covers one machine's workers, and this job spans ${this.o.nnodes}: use --checkpoint-every or --checkpoint-seconds` };
    if (this.outstanding) return { ok: false, message: `a checkpoint at step ${this.outstanding.step} is on its way: wait until the workers have written it` };
    if (workers.length === 0) return { ok: false, message: "no worker is running" };
    const listeners = workers.map((w) => ({ w, listener: readListener(this.o.runDir, w.rank) }));
    const deaf = listeners.filter((l) => l.listener === undefined || l.listener.pid !== l.w.pid);
    if (deaf.length > 0) {
      return { ok: false, message: `rank ${deaf.map((l) => l.w.rank).join(", ")} has not started a weft training loop (fit) yet, or runs none: try again once the job is training` };
    }
    if (listeners.every((l) => l.listener!.destination === null)) {
      return { ok: false, message: "the job writes no checkpoints: start it with --checkpoint-dir DIR (weft train) or fit()'s checkpoint option" };
    }
    const tails = workers.map((w) => readTail(this.o.runDir, w.rank));
    const furthest = Math.max(0, ...tails.map((t) => t.lastStep));
    const msPerStep = Math.min(...tails.map((t) => t.msPerStep));
    const margin = Math.max(MIN_MARGIN_STEPS, Number.isFinite(msPerStep) && msPerStep > 0 ? Math.ceil(MARGIN_MS / msPerStep) : MIN_MARGIN_STEPS);
    const request: CheckpointRequest = { id: randomBytes(6).toString("hex"), checkpoint_at_step: furthest + margin, from, time: Date.now() };
    const path = join(this.o.runDir, CONTROL_FILE);
    try {
      // Whole or not at all: a worker signalled by an earlier request may read it any moment.
      writeFileSync(`${path}.tmp`, `${JSON.stringify(request)}\n`);
      renameSync(`${path}.tmp`, path);
    } catch (err) {
      return { ok: false, message: `cannot write ${path}: ${(err as Error).message}` };
    }
    for (const w of workers) w.signal();
    this.outstanding = { id: request.id, step: request.checkpoint_at_step, ranks: workers.map((w) => w.rank), answers: new Map() };
    this.timer = setInterval(() => this.follow(), FOLLOW_MS);
    this.timer.unref();
    return { ok: true, message: `every worker writes a checkpoint at step ${request.checkpoint_at_step} (the furthest is at step ${furthest})` };
  }

  /** The job ended: the answers written so far are the outcome. */
  close(): void {
    if (this.outstanding) this.follow(true);
    clearInterval(this.timer);
  }

  private follow(final = false): void {
    const out = this.outstanding;
    if (!out) return;
    for (const rank of out.ranks) {
      if (out.answers.has(rank)) continue;
      const answer = readTail(this.o.runDir, rank).answers.get(out.id);
      if (answer) out.answers.set(rank, answer);
    }
    if (out.answers.size < out.ranks.length && !final) return;
    clearInterval(this.timer);
    this.outstanding = undefined;
    const { ok, why } = outcomeOf(out);
    this.o.log(`checkpoint request ${out.id}: ${why}`);
    this.o.record(ok, why);
  }
}

function outcomeOf(out: Outstanding): { ok: boolean; why: string } {
  const by = (o: CheckpointOutcome): number[] => [...out.answers].filter(([, a]) => a.outcome === o).map(([r]) => r).sort((a, b) => a - b);
  const missed = [...out.answers].filter(([, a]) => a.outcome === "missed");
  const silent = out.ranks.filter((r) => !out.answers.has(r));
  if (missed.length > 0) {
    const [rank, a] = missed[0]!;
    return { ok: false, why: `rank ${rank} heard of the checkpoint at step ${out.step} only at step ${a.step}, past it, so the set would not be whole: ask again` };
  }
  if (silent.length > 0) return { ok: false, why: `rank ${silent.join(", ")} ended before answering the checkpoint at step ${out.step}` };
  const saved = by("saved");
  const ended = by("after_end");
  if (saved.length > 0) return { ok: true, why: `the checkpoint at step ${out.step} was written (rank ${saved.join(", ")})` };
  if (ended.length > 0) return { ok: true, why: `the job ended before step ${out.step}: its last checkpoint, written at the end, stands in` };
  return { ok: false, why: `no worker writes checkpoints at step ${out.step}` };
}

function readListener(runDir: string, rank: number): CheckpointListener | undefined {
  const path = checkpointListenerFile(runDir, rank);
  if (!existsSync(path)) return undefined;
  try {
    const l = JSON.parse(readFileSync(path, "utf8")) as Partial<CheckpointListener>;
    if (typeof l.pid !== "number" || !(l.destination === null || l.destination === "folder" || l.destination === "file")) return undefined;
    return { pid: l.pid, destination: l.destination };
  } catch {
    return undefined; // being written: the worker is not ready yet
  }
}

interface Tail {
  lastStep: number;
  /** Over the tail's step lines (Infinity when fewer than two). */
  msPerStep: number;
  answers: Map<string, { outcome: CheckpointOutcome; step: number }>;
}

/** The steps and checkpoint answers at the end of rank-<rank>.jsonl (only its last TAIL_BYTES are read). */
function readTail(runDir: string, rank: number): Tail {
  const tail: Tail = { lastStep: 0, msPerStep: Infinity, answers: new Map() };
  let text: string;
  try {
    const fd = openSync(join(runDir, `rank-${rank}.jsonl`), "r");
    try {
      const size = fstatSync(fd).size;
      const start = Math.max(0, size - TAIL_BYTES);
      const buf = Buffer.alloc(size - start);
      readSync(fd, buf, 0, buf.length, start);
      text = buf.toString("utf8");
      if (start > 0) text = text.slice(text.indexOf("\n") + 1); // the first line is cut
    } finally {
      closeSync(fd);
    }
  } catch {
    return tail;
  }
  const steps: { step: number; time: number }[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let r: Record<string, unknown>;
    try {
      r = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue; // a line being written
    }
    if (typeof r.step !== "number") continue;
    if (r.event === undefined && typeof r.time === "number") steps.push({ step: r.step, time: r.time });
    else if (r.event === CHECKPOINT_REQUEST_EVENT && typeof r.id === "string") tail.answers.set(r.id, { outcome: r.outcome as CheckpointOutcome, step: r.step });
  }
  if (steps.length > 0) tail.lastStep = steps.at(-1)!.step;
  const recent = steps.slice(-20);
  if (recent.length >= 2) {
    const span = recent.at(-1)!.step - recent[0]!.step;
    if (span > 0) tail.msPerStep = (recent.at(-1)!.time - recent[0]!.time) / span;
  }
  return tail;
}
