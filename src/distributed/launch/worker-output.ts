// One worker's output as the launcher handles it. Every line goes to the worker's log in the run
// directory (rank-<r>.log, both streams in arrival order) and into its tail (the last lines, kept
// for the failure report). It is also passed on live, with its rank, unless it is held back:
//  - after the worker's fatal marker, the rest is Node's report of the uncaught error, which the
//    launcher sums up in one line instead (Note [one line per failed job] in fatal-report.ts);
//  - after another worker failed (mute()), whatever this one says while it is stopped is the
//    consequence, not the cause ("connection closed by rank 1"), and only its log keeps it.
import { createWriteStream, type WriteStream } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseFatalMarker, type FatalReport } from "./fatal-report.js";
import { LineSplitter } from "./line-splitter.js";

/** Lines of a failed worker kept for its report. */
const TAIL_LINES = 20;

export type WorkerStream = "stdout" | "stderr";

/** What the launcher learnt of a worker's uncaught error. */
export interface WorkerFatal extends FatalReport {
  /** `path:line` where it was thrown, when Node's report starts with one. */
  location?: string;
}

/** Node's report starts with the throwing line's place: `file:///x/train.js:3` or `/x/train.ts:3`. */
function locationIn(line: string): string | undefined {
  const m = /^(file:\/\/\/\S+|\/\S+):(\d+)$/.exec(line);
  if (!m) return undefined;
  return `${m[1]!.startsWith("file:") ? fileURLToPath(m[1]!) : m[1]!}:${m[2]!}`;
}

export class WorkerOutput {
  /** Set once the worker announced an uncaught error. */
  fatal: WorkerFatal | undefined;
  private readonly recent: string[] = [];
  private readonly splitters: Record<WorkerStream, LineSplitter>;
  private readonly file: WriteStream;
  private muted = false;
  private linesAfterMarker = 0;

  constructor(
    readonly rank: number,
    readonly logPath: string,
    private readonly onLine: (rank: number, stream: WorkerStream, line: string) => void,
    onLogError: (message: string) => void,
  ) {
    this.splitters = {
      stdout: new LineSplitter((line) => this.line("stdout", line)),
      stderr: new LineSplitter((line) => this.line("stderr", line)),
    };
    this.file = createWriteStream(logPath);
    // A full disk must not take the job down: the terminal still shows the lines.
    this.file.once("error", (err) => onLogError(`cannot write ${logPath}: ${err.message}; rank ${rank}'s output is not kept there`));
  }

  push(stream: WorkerStream, chunk: string): void {
    this.splitters[stream].push(chunk);
  }

  /** Emits last lines that had no newline (at exit). */
  flush(): void {
    this.splitters.stdout.flush();
    this.splitters.stderr.flush();
  }

  /** Stop passing lines on live; they still reach the log and the tail. */
  mute(): void {
    this.muted = true;
  }

  /** The last lines, oldest first. */
  tail(): string[] {
    return [...this.recent];
  }

  /** Finishes the log file. */
  close(): Promise<void> {
    return new Promise((resolve) => this.file.end(resolve));
  }

  private line(stream: WorkerStream, line: string): void {
    if (stream === "stderr") {
      const report = parseFatalMarker(line);
      if (report) {
        this.fatal = report;
        return;
      }
      if (this.fatal && this.linesAfterMarker++ === 0) {
        const location = locationIn(line);
        if (location) this.fatal.location = location;
      }
    }
    this.recent.push(line);
    if (this.recent.length > TAIL_LINES) this.recent.shift();
    if (!this.file.errored) this.file.write(`${line}\n`);
    if (!this.fatal && !this.muted) this.onLine(this.rank, stream, line);
  }
}
