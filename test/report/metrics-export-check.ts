// What the export tests check an export against, computed without src/report's code: the rows a
// set of rank streams must give (docs/export.md's rules, restated), a CSV parser, and TensorBoard
// event files decoded by Google's protobuf runtime (./tensorboard-decode.py).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const PYTHON = "/usr/bin/python3";
const DECODER = join(root, "test/report/tensorboard-decode.py");

export type Row = Record<string, number | string | boolean>;

/**
 * The rows docs/export.md says a rank's stream gives: each step line and eval line with an
 * integer step, scalars as they are, an object's scalars as `<field>.<key>`, `event` as `kind`.
 */
export function expectedRows(rank: number, lines: readonly Record<string, unknown>[]): Row[] {
  const rows: Row[] = [];
  for (const line of lines) {
    if ((line.event !== undefined && line.event !== "eval") || !Number.isInteger(line.step)) continue;
    const row: Row = { kind: line.event === "eval" ? "eval" : "step", rank };
    for (const [k, v] of Object.entries(line)) {
      if (k === "event" || k === "rank") continue;
      if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") row[k] = v;
      else if (v !== null && typeof v === "object" && !Array.isArray(v)) for (const [i, x] of Object.entries(v)) if (typeof x === "number") row[`${k}.${i}`] = x;
    }
    rows.push(row);
  }
  return rows;
}

/** RFC 4180 text as rows of fields (a quoted field may hold commas, doubled quotes and line breaks). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c !== '"') field += c;
      else if (text[i + 1] === '"') (field += '"'), i++;
      else quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === ",") row.push(field), (field = "");
    else if (c === "\r" && text[i + 1] === "\n") row.push(field), rows.push(row), (row = []), (field = ""), i++;
    else field += c;
  }
  assert.ok(!quoted && field === "" && row.length === 0, "the CSV ends with CRLF, outside quotes");
  return rows;
}

const LEADING = new Set(["kind", "rank", "step", "epoch", "time", "wall_s"]);

/**
 * The events docs/export.md says one rank's rows give in TensorBoard: the version record at the
 * first row's time, then a point per row at its step and time (ms to s), holding every number
 * past the leading columns as a float32, `.` as `/`, an evaluation's under eval/.
 */
export function expectedEvents(rows: readonly Row[]): DecodedEvent[] {
  const points = rows.map((r) => ({
    wall_time: (r.time as number) / 1000,
    step: r.step as number,
    canonical: true,
    values: Object.fromEntries(
      Object.entries(r).flatMap(([k, v]) => (LEADING.has(k) || typeof v !== "number" ? [] : [[`${r.kind === "eval" ? "eval/" : ""}${k.replaceAll(".", "/")}`, Math.fround(v)]])),
    ),
  }));
  const start = Math.min(...points.map((p) => p.wall_time));
  return [{ wall_time: start, step: 0, canonical: true, file_version: "brain.Event:2" }, ...points];
}

export interface DecodedEvent {
  wall_time: number;
  step: number;
  canonical: boolean;
  file_version?: string;
  values?: Record<string, number>;
}

/** Each file's events as protobuf's Python runtime reads them; fails the test on a bad checksum. */
export function decodeEventFiles(paths: readonly string[]): Record<string, DecodedEvent[]> {
  const probe = spawnSync(PYTHON, ["-c", "import google.protobuf"], { encoding: "utf8" });
  assert.equal(probe.status, 0, `${PYTHON} cannot import google.protobuf: install Debian's python3-protobuf (.ci/run does)`);
  const run = spawnSync(PYTHON, [DECODER, ...paths], { encoding: "utf8", timeout: 60_000 });
  assert.equal(run.status, 0, `the decoder refused the files: ${run.stderr}`);
  return JSON.parse(run.stdout) as Record<string, DecodedEvent[]>;
}

/** The decoder run on files expected to be bad: its exit status and message. */
export function decoderVerdict(path: string): { status: number | null; stderr: string } {
  const run = spawnSync(PYTHON, [DECODER, path], { encoding: "utf8", timeout: 60_000 });
  return { status: run.status, stderr: run.stderr };
}
