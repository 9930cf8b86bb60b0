// Follows a run folder as its writers append to it: the workers' rank-<r>.jsonl and the
// launchers' launcher-<node>.jsonl. Each poll reads only the bytes added since the last one (an
// offset per file), never a whole file again, and at most MAX_READ_BYTES per file, so a long
// finished run is taken in over a few polls instead of one long stall of the process it shares
// the CPUs with (the launcher, while training runs).
import { closeSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { StringDecoder } from "node:string_decoder";

/** Where a line came from: a worker's metrics, or a launcher's events. */
export type TailSource = { kind: "rank"; rank: number } | { kind: "launcher"; node: number };

/** One parsed JSON line. */
export type TailRecord = Readonly<Record<string, unknown>>;

/** The most one poll reads of one file (a few thousand step lines). */
const MAX_READ_BYTES = 4 << 20;

interface FileTail {
  source: TailSource;
  offset: number;
  partial: string;
  decoder: StringDecoder;
}

function sourceOf(name: string): TailSource | undefined {
  const rank = /^rank-(\d+)\.jsonl$/.exec(name);
  if (rank) return { kind: "rank", rank: Number(rank[1]) };
  const launcher = /^launcher-(\d+)\.jsonl$/.exec(name);
  if (launcher) return { kind: "launcher", node: Number(launcher[1]) };
  return undefined;
}

export class RunTail {
  private readonly files = new Map<string, FileTail>();
  private readonly buffer = Buffer.alloc(64 << 10);

  constructor(
    readonly dir: string,
    private readonly onRecord: (source: TailSource, record: TailRecord) => void,
  ) {}

  /** Reads what was appended since the last poll; returns whether anything was. A folder not there yet is not an error. */
  poll(): boolean {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return false;
    }
    let read = false;
    for (const name of names) {
      let t = this.files.get(name);
      if (!t) {
        const source = sourceOf(name);
        if (!source) continue;
        t = { source, offset: 0, partial: "", decoder: new StringDecoder("utf8") };
        this.files.set(name, t);
      }
      if (this.readNew(join(this.dir, name), t)) read = true;
    }
    return read;
  }

  private readNew(path: string, t: FileTail): boolean {
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      return false;
    }
    if (size <= t.offset) return false;
    const end = Math.min(size, t.offset + MAX_READ_BYTES);
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch {
      return false;
    }
    let text = "";
    try {
      while (t.offset < end) {
        const n = readSync(fd, this.buffer, 0, Math.min(this.buffer.length, end - t.offset), t.offset);
        if (n === 0) break;
        t.offset += n;
        // The decoder keeps a character cut between two reads for the next one.
        text += t.decoder.write(this.buffer.subarray(0, n));
      }
    } finally {
      closeSync(fd);
    }
    const lines = (t.partial + text).split("\n");
    t.partial = lines.pop()!;
    for (const line of lines) {
      if (line === "") continue;
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        continue; // a line cut short by a worker that died mid-write
      }
      if (record !== null && typeof record === "object" && !Array.isArray(record)) this.onRecord(t.source, record as TailRecord);
    }
    return true;
  }
}
