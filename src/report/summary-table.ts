// The comparison's table: one row per configuration, one column per measure, in three forms from
// one definition: raw values (results.csv, results.json), text for the terminal and the page.
// A measure a run did not report (a strategy without staleness, a run that failed) is `undefined`,
// an empty CSV cell, and "—" on screen; nothing is guessed for it.
import { percentile } from "../train/percentile.js";
import type { Comparison, ConfigRun, MetricPoint } from "./comparison.js";

/** One column: its key (the CSV header), its title on screen, and how a value is shown. */
export interface Column {
  key: string;
  title: string;
  /** Right-aligned on screen (numbers). */
  numeric: boolean;
  value(run: ConfigRun, c: Comparison): number | string | undefined;
  format(value: number | string): string;
}

export interface SummaryTable {
  columns: Column[];
  /** Raw values, one array per configuration, in column order. */
  rows: (number | string | undefined)[][];
  /** The same, formatted ("—" for a missing value). */
  text: string[][];
}

/** What the table shows for a value that is not there. */
export const MISSING = "—";

const field = (run: ConfigRun, name: string): number | undefined => {
  const x = run.result?.[name];
  return typeof x === "number" && Number.isFinite(x) ? x : undefined;
};

function mean(xs: readonly number[]): number | undefined {
  return xs.length === 0 ? undefined : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/**
 * Seconds until the metric first reached `target` (≥ when higher is better, ≤ otherwise), or
 * undefined if it never did.
 *
 * @example
 * ```ts
 * const points = [{ step: 10, wall_s: 2, value: 0.5 }, { step: 20, wall_s: 4, value: 0.9 }, { step: 30, wall_s: 6, value: 0.95 }];
 * assert.equal(timeToTarget(points, 0.9, true), 4);
 * assert.equal(timeToTarget(points, 0.99, true), undefined);
 * assert.equal(timeToTarget(points, 0.6, false), 2);
 * ```
 */
export function timeToTarget(points: readonly MetricPoint[], target: number, higherIsBetter: boolean): number | undefined {
  return points.find((p) => (higherIsBetter ? p.value >= target : p.value <= target))?.wall_s;
}

/**
 * The default target when none was given: the best value the weakest finished configuration
 * reached, so that every finished configuration has a time to target and the column compares
 * how fast each got to a level that all of them got to.
 */
export function defaultTarget(c: Comparison): number | undefined {
  const bests = c.configs
    .filter((r) => r.status === "ok")
    .map((r) => r.curves.metric.map((p) => p.value))
    .filter((vs) => vs.length > 0)
    .map((vs) => (c.metric.higherIsBetter ? Math.max(...vs) : Math.min(...vs)));
  if (bests.length === 0) return undefined;
  return c.metric.higherIsBetter ? Math.min(...bests) : Math.max(...bests);
}

const fixed = (digits: number) => (x: number | string): string => (typeof x === "number" ? x.toFixed(digits) : x);

/** How a value of the metric `name` is shown: accuracies as percentages, others to 4 digits. */
export function formatMetric(name: string): (x: number | string) => string {
  return (x) => (typeof x !== "number" ? x : name.endsWith("accuracy") ? `${(100 * x).toFixed(2)}%` : x.toPrecision(4));
}

/** Bytes in the largest unit that keeps a number ≥ 1 (decimal units, as network rates are quoted). */
export function formatBytes(x: number | string): string {
  if (typeof x !== "number") return x;
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  let v = x;
  while (Math.abs(v) >= 1000 && i < units.length - 1) (v /= 1000), i++;
  return i === 0 ? `${Math.round(v)} B` : `${v.toPrecision(3)} ${units[i]}`;
}

/** The columns, for a comparison of `metric`. */
export function columns(c: Comparison): Column[] {
  const { name } = c.metric;
  const stepMs = (run: ConfigRun): readonly number[] => run.curves.step_ms;
  const target = c.target?.value;
  return [
    { key: "configuration", title: "configuration", numeric: false, value: (r) => r.label, format: String },
    { key: "status", title: "status", numeric: false, value: (r) => r.status, format: String },
    { key: name, title: name, numeric: true, value: (r) => field(r, "value"), format: formatMetric(name) },
    { key: "wall_s", title: "wall time (s)", numeric: true, value: (r) => field(r, "wall_s"), format: fixed(1) },
    {
      key: "time_to_target_s", title: target === undefined ? "time to target (s)" : `time to ${formatMetric(name)(target)} (s)`, numeric: true,
      value: (r) => (target === undefined ? undefined : timeToTarget(r.curves.metric, target, c.metric.higherIsBetter)), format: fixed(1),
    },
    { key: "bytes_sent_per_worker", title: "sent per worker", numeric: true, value: (r) => field(r, "bytes_sent_per_worker") ?? (r.status === "ok" ? r.curves.loss.at(-1)?.bytes_sent : undefined), format: formatBytes },
    { key: "step_ms_mean", title: "step mean (ms)", numeric: true, value: (r) => field(r, "step_ms_mean") ?? (r.status === "ok" ? mean(stepMs(r)) : undefined), format: fixed(1) },
    { key: "step_ms_p90", title: "step p90 (ms)", numeric: true, value: (r) => field(r, "step_ms_p90") ?? (r.status === "ok" && stepMs(r).length > 0 ? percentile(stepMs(r), 0.9) : undefined), format: fixed(1) },
    { key: "staleness_mean", title: "staleness mean", numeric: true, value: (r) => field(r, "staleness_mean"), format: fixed(2) },
    { key: "staleness_max", title: "staleness max", numeric: true, value: (r) => field(r, "staleness_max"), format: fixed(0) },
    { key: "consensus_distance", title: "consensus distance", numeric: true, value: (r) => field(r, "consensus_distance"), format: (x) => (typeof x === "number" ? x.toPrecision(3) : x) },
    { key: "samples_per_s", title: "samples/s", numeric: true, value: (r) => field(r, "samples_per_s"), format: fixed(0) },
    { key: "steps", title: "steps", numeric: true, value: (r) => field(r, "steps"), format: fixed(0) },
  ];
}

/**
 * The table of a comparison: raw values and their text, row by row.
 *
 * @example A finished run and one that timed out
 * ```ts
 * const curves = { metric: [{ step: 5, wall_s: 1.5, value: 0.9 }], loss: [], step_ms: [10, 20] };
 * const c = {
 *   recipe: "mnist", metric: { name: "test_accuracy", higherIsBetter: true }, target: { value: 0.9, source: "--target" },
 *   command: "weft compare mnist", keys: ["strategy"], started: "2026-01-01T00:00:00Z",
 *   configs: [
 *     { id: "1-strategy-single", label: "strategy=single", settings: { strategy: "single" }, argv: [], status: "ok", result: { value: 0.91, wall_s: 2, steps: 5 }, curves },
 *     { id: "2-strategy-ddp", label: "strategy=ddp", settings: { strategy: "ddp" }, argv: [], status: "timed out", curves: { metric: [], loss: [], step_ms: [] } },
 *   ],
 * };
 * const t = summaryTable(c);
 * assert.deepEqual(t.text[0]!.slice(0, 5), ["strategy=single", "ok", "91.00%", "2.0", "1.5"]);
 * assert.deepEqual(t.text[1]!.slice(0, 4), ["strategy=ddp", "timed out", "—", "—"]);
 * assert.equal(t.rows[0]![t.columns.findIndex((col) => col.key === "step_ms_mean")], 15);
 * ```
 */
export function summaryTable(c: Comparison): SummaryTable {
  const cols = columns(c);
  const rows = c.configs.map((run) => cols.map((col) => col.value(run, c)));
  const text = rows.map((row) => row.map((v, i) => (v === undefined ? MISSING : cols[i]!.format(v))));
  return { columns: cols, rows, text };
}

/** Indices of the columns that have a value in some row: a measure no configuration reported is left off the screen (not the CSV). */
export function shownColumns(t: SummaryTable): number[] {
  return t.columns.map((_, i) => i).filter((i) => t.rows.some((row) => row[i] !== undefined));
}

/** The table as aligned plain text, for the terminal, without the columns no run reported. */
export function tableText(t: SummaryTable): string {
  const shown = shownColumns(t);
  const header = shown.map((i) => t.columns[i]!.title);
  const cells = t.text.map((row) => shown.map((i) => row[i]!));
  const widths = header.map((h, j) => Math.max(h.length, ...cells.map((row) => row[j]!.length)));
  const line = (row: string[]): string =>
    row.map((cell, j) => (t.columns[shown[j]!]!.numeric ? cell.padStart(widths[j]!) : cell.padEnd(widths[j]!))).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}
