// `weft export RUN_DIR --format csv|jsonl|tensorboard [--out PATH]`: a run folder's per-step
// metrics in a form other tools read (docs/export.md). The streams are read with the dashboard's
// reader of a run folder (RunTail: a line cut short by a killed worker is skipped), made into one
// table (report/metrics-export-table.ts) and written whole or not at all (report/metrics-export.ts).
// Exit 0 with one line saying where it wrote; 2, in one line, for a folder that is not a run, a
// format it does not know, or a destination it cannot write.
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { RunTail } from "../dashboard/run-tail.js";
import { EXPORT_FORMATS, MetricsExportError, writeMetricsExport, type ExportFormat } from "../report/metrics-export.js";
import { metricsTable, type MetricsTable, type RankLine } from "../report/metrics-export-table.js";
import type { OptionTable } from "../train/option-spec.js";
import { describeOptions, parseCommandLine, UsageError } from "./options.js";

const COMMAND = "weft export";

/** Where each format goes by default, inside RUN_DIR/export/. */
const DEFAULT_NAMES: Record<ExportFormat, string> = { csv: "metrics.csv", jsonl: "metrics.jsonl", tensorboard: "tensorboard" };

const OPTIONS = {
  format: { type: "choice", choices: EXPORT_FORMATS, help: "csv or jsonl (a row per rank and step, and per evaluation), or tensorboard (event files, a run per rank)" },
  out: { type: "string", placeholder: "PATH", help: "the file (csv, jsonl) or folder (tensorboard) to write; default RUN_DIR/export/metrics.csv, metrics.jsonl or tensorboard" },
  help: { type: "flag", short: "h", help: "show this help" },
} as const satisfies OptionTable;

const USAGE = `usage: weft export RUN_DIR --format csv|jsonl|tensorboard [--out PATH]

Writes the per-step metrics of a run folder (runs/<job id>: every rank-<r>.jsonl) for other tools:
a CSV or JSON-lines table of every rank's steps and evaluations, or TensorBoard event files with a
run per rank (tensorboard --logdir PATH). See docs/export.md.

options:
${describeOptions(OPTIONS)}`;

/** Every rank's lines, read through to the end of each stream. */
function readRun(dir: string): MetricsTable {
  const lines: RankLine[] = [];
  const tail = new RunTail(dir, (source, line) => {
    if (source.kind === "rank") lines.push({ rank: source.rank, line });
  });
  while (tail.poll()) {
    // Each poll reads a bounded slice of every file; go on until nothing is left.
  }
  return metricsTable(lines);
}

/** "ranks 0, 1; steps 1 to 4; 1 evaluation": what an export holds, for its one line. */
function contents(t: MetricsTable): string {
  const ranks = [...new Set(t.records.map((r) => r.rank))].sort((a, b) => a - b);
  const steps = t.records.filter((r) => r.kind === "step").map((r) => r.step);
  const evals = t.records.length - steps.length;
  const span = steps.length === 0 ? "no steps" : `steps ${steps[0]} to ${steps.at(-1)}`;
  return `rank${ranks.length === 1 ? "" : "s"} ${ranks.join(", ")}; ${span}; ${evals} evaluation${evals === 1 ? "" : "s"}`;
}

/** Runs `weft export <argv>` and returns the exit code. */
export async function runExportCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseCommandLine(argv, OPTIONS, { command: COMMAND, positionals: ["RUN_DIR"] });
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  const dir = positionals[0];
  if (dir === undefined) throw new UsageError(`${COMMAND}: which run? give a run folder (runs/<job id>) and --format ${EXPORT_FORMATS.join("|")}`);
  const format = v.format as ExportFormat | undefined;
  if (format === undefined) throw new UsageError(`${COMMAND}: which format? add --format csv, jsonl or tensorboard`);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${COMMAND}: ${dir} is not a folder; give a run folder (runs/<job id>)`);
  if (!readdirSync(dir).some((f) => /^rank-\d+\.jsonl$/.test(f))) {
    const fix = existsSync(join(dir, "results.json"))
      ? "a weft compare report holds its configurations' runs: export one of their folders (run_dir in results.json)"
      : "give the run folder of a job whose workers wrote metrics (not one started with --no-metrics)";
    throw new UsageError(`${COMMAND}: ${dir} holds no rank-<r>.jsonl, so no metrics; ${fix}`);
  }
  const table = readRun(dir);
  if (table.records.length === 0) throw new UsageError(`${COMMAND}: the rank-<r>.jsonl files in ${dir} hold no step yet, so there is nothing to export; run it again once the job has taken a step`);

  let out = v.out;
  let madeFolder: string | undefined;
  if (out === undefined) {
    const folder = join(dir, "export");
    if (!existsSync(folder)) {
      try {
        mkdirSync(folder);
      } catch (err) {
        throw new UsageError(`${COMMAND}: cannot create ${folder} (${(err as NodeJS.ErrnoException).code}); give --out a path you can write to`);
      }
      madeFolder = folder;
    }
    out = join(folder, DEFAULT_NAMES[format]);
  }
  let files: string[];
  try {
    files = await writeMetricsExport(table, format, out);
  } catch (err) {
    if (madeFolder !== undefined) rmdirSync(madeFolder);
    throw err instanceof MetricsExportError ? new UsageError(`${COMMAND}: ${err.message}`) : err;
  }
  console.log(
    format === "tensorboard"
      ? `${COMMAND}: wrote ${files.length} event file${files.length === 1 ? "" : "s"} (${contents(table)}) to ${out}: tensorboard --logdir ${out}`
      : `${COMMAND}: wrote ${table.records.length} rows (${contents(table)}) to ${out}`,
  );
  return 0;
}
