// Reads a run folder's metrics streams (`rank-<r>.jsonl`, one JSON object a line) into the curves a
// report draws. Two kinds of line matter:
//
//   step lines  {"step":12,"epoch":0,"loss":0.31,"compute_ms":...,"wait_ms":...,"wall_s":4.2,"bytes_sent":...}
//   eval lines  {"event":"eval","step":63,"epoch":0,"wall_s":9.8,"<metric>":0.97,...}   (rank 0 only)
//
// Every field past `step` is optional and a line that is not JSON, or lacks what a curve needs, is
// skipped: the streams are also read while a run was killed mid-line, and by reports of runs
// written before a field existed. A step reported by several ranks gives one point: its loss and
// bytes are the mean over those ranks (ranks of an asynchronous strategy each have their own loss),
// its time the earliest any of them finished it. In a synchronous run every rank finishes a step
// together; in an asynchronous one (a parameter server's async mode, gossip) ranks run apart and
// some stop early, so no one rank's clock covers every step, and the chart of loss against time
// orders the points by that time (charts.ts).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { LossPoint, MetricPoint, RunCurves } from "./comparison.js";

type Line = Record<string, unknown>;

const num = (x: unknown): number | undefined => (typeof x === "number" && Number.isFinite(x) ? x : undefined);

function readLines(path: string): Line[] {
  const lines: Line[] = [];
  for (const text of readFileSync(path, "utf8").split("\n")) {
    if (text.trim() === "") continue;
    try {
      const value: unknown = JSON.parse(text);
      if (value !== null && typeof value === "object" && !Array.isArray(value)) lines.push(value as Line);
    } catch {
      // A partial last line of a killed run, or a line that is not ours.
    }
  }
  return lines;
}

/**
 * Seconds since training started for each step line of one rank: its `wall_s` where written,
 * else from its `time` stamp (ms since the epoch), counting the first step's own duration.
 */
function wallClock(steps: Line[]): (line: Line) => number | undefined {
  const first = steps.find((l) => num(l.time) !== undefined);
  const firstMs = first === undefined ? undefined : (num(first.compute_ms) ?? 0) + (num(first.wait_ms) ?? 0);
  return (line) => num(line.wall_s) ?? (first && firstMs !== undefined && num(line.time) !== undefined ? (num(line.time)! - num(first.time)! + firstMs) / 1000 : undefined);
}

const mean = (xs: number[]): number | undefined => (xs.length === 0 ? undefined : xs.reduce((a, b) => a + b, 0) / xs.length);

/**
 * The metric, loss and step-time curves of the run in `runDir`; empty curves when the folder or
 * its streams are missing.
 *
 * @param runDir the run folder (`run_dir` of the `--json` line)
 * @param metricName the recipe's metric, as the eval lines name it ("test_accuracy")
 * @returns the metric at each evaluation, the loss at each step, and rank 0's step times
 * @example Two ranks' step lines and rank 0's eval line
 * ```ts
 * import { mkdtempSync, writeFileSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * const dir = mkdtempSync(join(tmpdir(), "weft-curves-"));
 * writeFileSync(join(dir, "rank-0.jsonl"), '{"step":1,"loss":2,"wall_s":0.5,"bytes_sent":100,"compute_ms":400,"wait_ms":100}\n{"event":"eval","step":1,"wall_s":0.6,"acc":0.5}\n');
 * writeFileSync(join(dir, "rank-1.jsonl"), '{"step":1,"loss":4,"wall_s":0.5,"bytes_sent":300}\n{"step":2,"lo');
 * const curves = readRunCurves(dir, "acc");
 * assert.deepEqual(curves.loss, [{ step: 1, loss: 3, wall_s: 0.5, bytes_sent: 200 }]);
 * assert.deepEqual(curves.metric, [{ step: 1, wall_s: 0.6, bytes_sent: 200, value: 0.5 }]);
 * assert.deepEqual(curves.step_ms, [500]);
 * ```
 */
export function readRunCurves(runDir: string, metricName: string): RunCurves {
  const curves: RunCurves = { metric: [], loss: [], step_ms: [] };
  if (!existsSync(runDir)) return curves;
  const files = readdirSync(runDir)
    .map((name) => ({ name, rank: /^rank-(\d+)\.jsonl$/.exec(name)?.[1] }))
    .filter((f): f is { name: string; rank: string } => f.rank !== undefined)
    .map((f) => ({ rank: Number(f.rank), lines: readLines(join(runDir, f.name)) }))
    .sort((a, b) => a.rank - b.rank);

  // step → what each rank said about it, lowest rank first (files are sorted by rank).
  const bySteps = new Map<number, { loss: number[]; bytes: number[]; wall?: number }>();
  const evals: Line[] = [];
  for (const { lines } of files) {
    const stepLines = lines.filter((l) => l.event === undefined && num(l.step) !== undefined);
    const wall = wallClock(stepLines);
    for (const l of stepLines) {
      const step = num(l.step)!;
      let s = bySteps.get(step);
      if (!s) bySteps.set(step, (s = { loss: [], bytes: [] }));
      if (num(l.loss) !== undefined) s.loss.push(num(l.loss)!);
      if (num(l.bytes_sent) !== undefined) s.bytes.push(num(l.bytes_sent)!);
      const at = wall(l);
      if (at !== undefined) s.wall = Math.min(s.wall ?? Infinity, at);
    }
    evals.push(...lines.filter((l) => l.event === "eval"));
  }
  const bytesAt = (step: number): number | undefined => mean(bySteps.get(step)?.bytes ?? []);

  for (const [step, s] of [...bySteps].sort((a, b) => a[0] - b[0])) {
    const loss = mean(s.loss);
    if (loss === undefined) continue;
    const bytes = mean(s.bytes);
    curves.loss.push({ step, loss, ...(s.wall === undefined ? {} : { wall_s: s.wall }), ...(bytes === undefined ? {} : { bytes_sent: bytes }) } satisfies LossPoint);
  }
  for (const e of evals) {
    const step = num(e.step), wall = num(e.wall_s), value = num(e[metricName]);
    if (step === undefined || wall === undefined || value === undefined) continue;
    const bytes = num(e.bytes_sent) ?? bytesAt(step);
    curves.metric.push({ step, wall_s: wall, ...(bytes === undefined ? {} : { bytes_sent: bytes }), value } satisfies MetricPoint);
  }
  curves.metric.sort((a, b) => a.step - b.step || a.wall_s - b.wall_s);
  const first = files[0];
  if (first) {
    for (const l of first.lines) {
      if (l.event !== undefined || num(l.compute_ms) === undefined) continue;
      curves.step_ms.push(Math.round((num(l.compute_ms)! + (num(l.wait_ms) ?? 0)) * 100) / 100);
    }
  }
  return curves;
}
