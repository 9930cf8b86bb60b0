// The lines of a run folder's metrics streams (rank-<r>.jsonl, written by MetricsWriter) as one
// table, the single shape every export format is written from (metrics-export.ts), so a CSV row,
// a JSON line and a TensorBoard point of the same step always agree.
//
// Which lines become rows: every step line (a line with no "event") and every "eval" line (rank 0
// evaluating the model, docs/training.md), each with an integer step. Other events (a checkpoint
// written, a generation formed) are the job's history, not its metrics: the dashboard's timeline
// shows them, an export leaves them out. An eval line is a row of its own (kind "eval"), not
// columns of its step's row: it is measured after that step, has its own time, and two
// evaluations may share a step (the last epoch's and the final one).
//
// Which fields become columns: every number, string and boolean, under its own name, and each
// scalar inside an object one level down as `<field>.<key>` (a step line's `wait_for`, the ms this
// rank waited for each other rank, becomes wait_for.0, wait_for.1, ...). `rank` is the file's;
// `event` is `kind`. null (JSON's NaN), arrays and deeper objects are left out.
//
// The order is stable, a function of the folder's contents alone: rows by step, then kind (every
// rank's step before the evaluation after it), then rank, then the order the stream had; columns start with
// kind, rank, step, epoch, time, wall_s, then the rest in the order the sorted rows first show them,
// with the keys of one object together, sorted (wait_for.2 before wait_for.10).

/** A value a cell can hold. */
export type Scalar = number | string | boolean;

/** One row: a step or an evaluation of one rank. */
export type ExportRecord = { readonly kind: "step" | "eval"; readonly rank: number; readonly step: number } & Readonly<Record<string, Scalar>>;

export interface MetricsTable {
  readonly columns: readonly string[];
  readonly records: readonly ExportRecord[];
}

/** One line of a rank's stream, in the order the stream holds them. */
export interface RankLine {
  rank: number;
  line: Readonly<Record<string, unknown>>;
}

/** The columns that say which row this is and when, first in every export; TensorBoard plots the others. */
export const LEADING_COLUMNS: readonly string[] = ["kind", "rank", "step", "epoch", "time", "wall_s"];

const isScalar = (v: unknown): v is Scalar => (typeof v === "number" && Number.isFinite(v)) || typeof v === "string" || typeof v === "boolean";

function recordOf({ rank, line }: RankLine): ExportRecord | undefined {
  const kind = line.event === undefined ? "step" : line.event === "eval" ? "eval" : undefined;
  if (kind === undefined || !Number.isSafeInteger(line.step) || (line.step as number) < 0) return undefined;
  const record: Record<string, Scalar> = { kind, rank, step: line.step as number };
  for (const [key, value] of Object.entries(line)) {
    if (key === "event" || key === "rank" || key === "step") continue;
    if (isScalar(value)) record[key] = value;
    else if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      for (const [inner, v] of Object.entries(value)) if (isScalar(v)) record[`${key}.${inner}`] = v;
    }
  }
  return record as ExportRecord;
}

const byKey = (a: string, b: string): number => a.localeCompare(b, "en", { numeric: true });

/**
 * The rows and columns of an export, from the streams' lines.
 *
 * @param lines every rank's lines, each rank's in its stream's order
 * @returns the rows sorted by step, kind and rank, and the columns any row has
 * @example Two ranks' steps and rank 0's evaluation
 * ```ts
 * const table = metricsTable([
 *   { rank: 1, line: { rank: 1, step: 1, loss: 2.5, wait_for: { "0": 3 } } },
 *   { rank: 0, line: { rank: 0, step: 1, loss: 2.4, wait_for: { "1": 0 } } },
 *   { rank: 0, line: { event: "eval", step: 1, test_accuracy: 0.5 } },
 *   { rank: 0, line: { event: "checkpoint_written", step: 1, path: "x" } },
 * ]);
 * assert.deepEqual(table.columns, ["kind", "rank", "step", "loss", "wait_for.0", "wait_for.1", "test_accuracy"]);
 * assert.deepEqual(table.records.map((r) => [r.kind, r.rank]), [["step", 0], ["step", 1], ["eval", 0]]);
 * assert.equal(table.records[1]!["wait_for.0"], 3);
 * ```
 */
export function metricsTable(lines: Iterable<RankLine>): MetricsTable {
  const records: ExportRecord[] = [];
  for (const l of lines) {
    const r = recordOf(l);
    if (r) records.push(r);
  }
  // Array.prototype.sort is stable: rows that tie keep their stream's order.
  records.sort((a, b) => a.step - b.step || (a.kind === b.kind ? 0 : a.kind === "step" ? -1 : 1) || a.rank - b.rank);

  // Columns grouped by the field they came from (`wait_for` for wait_for.1), groups in first-seen order.
  const groups = new Map<string, Set<string>>();
  for (const r of records) {
    for (const key of Object.keys(r)) {
      const field = key.split(".", 1)[0]!;
      let g = groups.get(field);
      if (!g) groups.set(field, (g = new Set()));
      g.add(key);
    }
  }
  const leading = LEADING_COLUMNS.filter((c) => groups.get(c)?.has(c));
  const rest = [...groups.values()].flatMap((keys) => [...keys].sort(byKey)).filter((c) => !leading.includes(c));
  return { columns: [...leading, ...rest], records };
}
