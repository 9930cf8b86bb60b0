// Exports of two ranks' streams, made to hold every case the rules of docs/export.md name (an eval
// line, another event, a repeated step, a nested wait_for, a string that needs quoting, a NaN
// written as null, a step that is not an integer), checked against the rows those rules give
// (metrics-export-check.ts), a CSV parser of the test's own and protobuf's Python runtime.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { writeMetricsExport, MetricsExportError } from "../../src/report/metrics-export.js";
import { metricsTable, type RankLine } from "../../src/report/metrics-export-table.js";
import { decodeEventFiles, expectedEvents, expectedRows, parseCsv, type Row } from "./metrics-export-check.js";

const T0 = 1796276111000;
const STREAMS: Record<number, Record<string, unknown>[]> = {
  1: [
    { rank: 1, time: T0 + 80, step: 1, epoch: 0, loss: 2.5, compute_ms: 56.28, wait_ms: 0.5, wall_s: 0.08, bytes_sent: 789932, wait_for: { "0": 0 } },
    { rank: 1, time: T0 + 150, step: 2, epoch: 0, loss: null, compute_ms: 40.1, wait_ms: 0.25, wall_s: 0.15, bytes_sent: 1579864, wait_for: { "0": 1.5 }, note: 'a,"quoted"\nline' },
  ],
  0: [
    { rank: 0, time: T0 + 79, step: 1, epoch: 0, loss: 2.25, compute_ms: 58.79, wait_ms: 1.16, wall_s: 0.079, bytes_sent: 789932, wait_for: { "10": 4.1, "2": 3 } },
    { rank: 0, time: T0 + 90, event: "checkpoint_written", step: 1, path: "step-1.safetensors" },
    { rank: 0, time: T0 + 151, step: 2, epoch: 0, loss: 2.1, compute_ms: 40.4, wait_ms: 0.48, wall_s: 0.151, bytes_sent: 1579864, wait_for: { "10": 2.3, "2": 0 }, cached: true },
    { rank: 0, time: T0 + 400, event: "eval", step: 2, epoch: 0, wall_s: 0.151, test_accuracy: 0.75, test_loss: 0.8 },
    { rank: 0, time: T0 + 420, step: 2, epoch: 0, loss: 2.05, compute_ms: 41, wait_ms: 0.4, wall_s: 0.17, bytes_sent: 1579864 },
    { rank: 0, time: T0 + 430, step: 2.5, loss: 9 },
  ],
};

const lines = (): RankLine[] => Object.entries(STREAMS).flatMap(([rank, ls]) => ls.map((line) => ({ rank: Number(rank), line })));

/** Every rank's rows in the documented order: by step, then kind (steps before evaluations), then rank, then stream order. */
function expected(): Row[] {
  const rows = Object.entries(STREAMS).flatMap(([rank, ls]) => expectedRows(Number(rank), ls));
  const kindOrder = (r: Row): number => (r.kind === "step" ? 0 : 1);
  return rows.sort((a, b) => (a.step as number) - (b.step as number) || kindOrder(a) - kindOrder(b) || (a.rank as number) - (b.rank as number));
}

function inTemp<T>(use: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "weft-export-"));
  return use(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test("CSV: a row per step line and eval line, in the documented order, every cell the stream's value, the columns in the documented order", () =>
  inTemp(async (dir) => {
    const out = join(dir, "metrics.csv");
    await writeMetricsExport(metricsTable(lines()), "csv", out);
    const [header, ...rows] = parseCsv(readFileSync(out, "utf8"));
    // Leading columns, then the rest as the sorted rows first show them, wait_for's keys together in numeric order.
    assert.deepEqual(header, ["kind", "rank", "step", "epoch", "time", "wall_s", "loss", "compute_ms", "wait_ms", "bytes_sent", "wait_for.0", "wait_for.2", "wait_for.10", "cached", "note", "test_accuracy", "test_loss"]);
    const asStrings = expected().map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, String(v)])));
    assert.deepEqual(rows.map((cells) => Object.fromEntries(cells.flatMap((c, i) => (c === "" ? [] : [[header![i]!, c]])))), asStrings);
  }));

test("JSON lines: the same rows, one object a line, numbers exact, empty cells left out", () =>
  inTemp(async (dir) => {
    const out = join(dir, "metrics.jsonl");
    await writeMetricsExport(metricsTable(lines()), "jsonl", out);
    const text = readFileSync(out, "utf8");
    assert.ok(text.endsWith("\n"));
    assert.deepEqual(text.trimEnd().split("\n").map((l) => JSON.parse(l) as Row), expected());
  }));

test("TensorBoard: a run per rank, a point per row at its step and time, every number past the leading columns a scalar, evaluations under eval/", () =>
  inTemp(async (dir) => {
    const out = join(dir, "tb");
    const files = await writeMetricsExport(metricsTable(lines()), "tensorboard", out);
    assert.deepEqual(readdirSync(out).sort(), ["rank-0", "rank-1"]);
    const decoded = decodeEventFiles(files);
    for (const rank of [0, 1]) {
      const events = expectedEvents(expected().filter((r) => r.rank === rank));
      const path = join(out, `rank-${rank}`, `events.out.tfevents.${Math.floor(events[0]!.wall_time)}.weft`);
      assert.ok(files.includes(path), `${path} among ${files.join(", ")}`);
      assert.deepEqual(decoded[path], events);
    }
  }));

test("an earlier TensorBoard export is replaced whole; a folder holding anything else is refused and left as it was", () =>
  inTemp(async (dir) => {
    const out = join(dir, "tb");
    const table = metricsTable(lines());
    await writeMetricsExport(table, "tensorboard", out);
    const one = metricsTable(lines().filter((l) => l.rank === 0));
    await writeMetricsExport(one, "tensorboard", out);
    assert.deepEqual(readdirSync(out), ["rank-0"], "rank 1's run of the earlier export is gone");
    assert.deepEqual(readdirSync(dir), ["tb"], "no temporary folder is left");

    const mine = join(dir, "mine");
    mkdirSync(join(mine, "rank-0"), { recursive: true });
    writeFileSync(join(mine, "rank-0", "notes.txt"), "keep me");
    await assert.rejects(writeMetricsExport(table, "tensorboard", mine), (err: Error) => err instanceof MetricsExportError && /will not replace .*mine: it holds rank-0, which no export wrote/.test(err.message));
    assert.equal(readFileSync(join(mine, "rank-0", "notes.txt"), "utf8"), "keep me");
  }));

test("a destination that cannot be written is refused in one line, and nothing is left behind", () =>
  inTemp(async (dir) => {
    writeFileSync(join(dir, "a-file"), "");
    const table = metricsTable(lines());
    for (const [format, out, why] of [
      ["csv", join(dir, "a-file", "metrics.csv"), /part of the path is a file/],
      ["jsonl", join(dir, "missing", "metrics.jsonl"), /its folder does not exist/],
      ["csv", dir, /it is a folder; give a file path/],
      ["tensorboard", join(dir, "a-file", "tb"), /part of the path is a file/],
      ["tensorboard", join(dir, "a-file"), /it is a file, and a TensorBoard export is a folder/],
    ] as const) {
      await assert.rejects(writeMetricsExport(table, format, out), (err: Error) => err instanceof MetricsExportError && why.test(err.message) && !err.message.includes("\n"));
    }
    assert.deepEqual(readdirSync(dir), ["a-file"]);
    assert.equal(existsSync(join(dir, "missing")), false);
  }));
