// Writes a run's metrics table (metrics-export-table.ts) where other tools read it (docs/export.md):
//
//   csv          one row per table row, RFC 4180 (csv.ts), a header of every column
//   jsonl        the same rows, one JSON object a line, without the cells a row leaves empty
//   tensorboard  a folder of one run per rank, rank-<r>/events.out.tfevents.<seconds>.weft
//                (tensorboard-events.ts), so TensorBoard shows each worker as a run
//
// Nothing is ever half written: a file goes to a temporary name beside it and is renamed over the
// target (checkpoint/atomic-write.ts), and a TensorBoard folder is built under a temporary name
// and renamed into place, so a failed export leaves what was there before. A folder is replaced
// only when it holds nothing but an earlier export, so a mistyped --out cannot delete a user's files.
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { temporaryNameFor, writeFileAtomic } from "../checkpoint/atomic-write.js";
import { toCsv } from "./csv.js";
import { LEADING_COLUMNS, type MetricsTable } from "./metrics-export-table.js";
import { encodeEventFile, type ScalarEvent } from "./tensorboard-events.js";

export const EXPORT_FORMATS = ["csv", "jsonl", "tensorboard"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** An export that could not be written where it was asked to go; the message says why and what to do. */
export class MetricsExportError extends Error {
  override name = "MetricsExportError";
}

const EVENT_FILE = /^events\.out\.tfevents\./;

function csvText(t: MetricsTable): string {
  return toCsv(t.columns, t.records.map((r) => t.columns.map((c) => r[c])));
}

function jsonlText(t: MetricsTable): string {
  return t.records.map((r) => `${JSON.stringify(Object.fromEntries(t.columns.filter((c) => r[c] !== undefined).map((c) => [c, r[c]])))}\n`).join("");
}

/**
 * Each rank's scalars: every number past the leading columns, tagged by its column (`wait_for.1`
 * as wait_for/1, TensorBoard's grouping), an evaluation's under eval/. A row's wall time is its
 * `time` (ms since the epoch, which MetricsWriter stamps on every line), else its `wall_s`.
 */
function tensorboardRuns(t: MetricsTable): Map<number, ScalarEvent[]> {
  const runs = new Map<number, ScalarEvent[]>();
  for (const r of t.records) {
    const values = t.columns
      .filter((c) => !LEADING_COLUMNS.includes(c) && typeof r[c] === "number")
      .map((c) => ({ tag: `${r.kind === "eval" ? "eval/" : ""}${c.replaceAll(".", "/")}`, value: r[c] as number }));
    if (values.length === 0) continue;
    const wallTime = typeof r.time === "number" ? r.time / 1000 : typeof r.wall_s === "number" ? r.wall_s : 0;
    let run = runs.get(r.rank);
    if (!run) runs.set(r.rank, (run = []));
    run.push({ step: r.step, wallTime, values });
  }
  return runs;
}

const REASONS: Record<string, string> = {
  ENOENT: "its folder does not exist",
  ENOTDIR: "part of the path is a file, not a folder",
  EISDIR: "it is a folder",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "the file system is read-only",
  ENOSPC: "no space left on the device",
};

function cannotWrite(out: string, err: unknown): MetricsExportError {
  if (err instanceof MetricsExportError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const reason = (code && REASONS[code]) ?? (err as Error).message;
  return new MetricsExportError(`cannot write ${out}: ${reason}; choose a path in a folder that exists and can be written`);
}

/** Refuses a TensorBoard destination that holds anything but an earlier export. */
function checkReplaceable(out: string): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new MetricsExportError(`cannot write ${out}: it is a file, and a TensorBoard export is a folder; choose a new folder`);
  for (const entry of readdirSync(out, { withFileTypes: true })) {
    const ours = entry.isDirectory() && /^rank-\d+$/.test(entry.name) && readdirSync(join(out, entry.name)).every((f) => EVENT_FILE.test(f));
    if (!ours) throw new MetricsExportError(`will not replace ${out}: it holds ${entry.name}, which no export wrote; choose a new or empty folder`);
  }
}

async function writeTensorboard(t: MetricsTable, out: string): Promise<string[]> {
  checkReplaceable(out);
  const building = temporaryNameFor(out);
  const written: string[] = [];
  await mkdir(building).catch((err: unknown) => {
    throw cannotWrite(out, err);
  });
  try {
    for (const [rank, events] of [...tensorboardRuns(t)].sort((a, b) => a[0] - b[0])) {
      const file = encodeEventFile(events, events.reduce((first, e) => Math.min(first, e.wallTime), Infinity));
      await mkdir(join(building, `rank-${rank}`));
      await writeFile(join(building, `rank-${rank}`, file.name), file.bytes);
      written.push(join(out, `rank-${rank}`, file.name));
    }
    if (!existsSync(out)) await rename(building, out);
    else {
      const previous = temporaryNameFor(out);
      await rename(out, previous);
      await rename(building, out).catch(async (err: unknown) => {
        await rename(previous, out);
        throw err;
      });
      await rm(previous, { recursive: true, force: true });
    }
  } catch (err) {
    await rm(building, { recursive: true, force: true });
    throw cannotWrite(out, err);
  }
  return written;
}

/**
 * Writes `table` to `out` in `format`: a file for csv and jsonl, a folder for tensorboard. The
 * folder `out` is in must exist.
 *
 * @returns the files written
 * @throws MetricsExportError when `out` cannot be written, or is a folder that holds other files
 * @example A step of two ranks as CSV
 * ```ts
 * import { mkdtempSync, readFileSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * const out = join(mkdtempSync(join(tmpdir(), "weft-export-")), "metrics.csv");
 * const table = { columns: ["kind", "rank", "step", "loss"], records: [{ kind: "step", rank: 0, step: 1, loss: 2 }, { kind: "step", rank: 1, step: 1, loss: 3 }] } as const;
 * assert.deepEqual(await writeMetricsExport(table, "csv", out), [out]);
 * assert.equal(readFileSync(out, "utf8"), "kind,rank,step,loss\r\nstep,0,1,2\r\nstep,1,1,3\r\n");
 * ```
 */
export async function writeMetricsExport(table: MetricsTable, format: ExportFormat, out: string): Promise<string[]> {
  if (format === "tensorboard") return writeTensorboard(table, out);
  if (existsSync(out) && statSync(out).isDirectory()) throw new MetricsExportError(`cannot write ${out}: it is a folder; give a file path (${join(out, `metrics.${format}`)})`);
  try {
    await writeFileAtomic(out, new TextEncoder().encode(format === "csv" ? csvText(table) : jsonlText(table)));
  } catch (err) {
    throw cannotWrite(out, err);
  }
  return [out];
}
