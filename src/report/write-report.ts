// Writes a comparison's report folder: `report.html` (the page: table and charts, self-contained),
// `results.csv` (the table, one row per configuration, raw numbers) and `results.json` (everything:
// the configurations, their result lines, the table and every curve). The folder may already hold
// the runs' own folders and logs (weft compare puts them there); those are left as they are.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { version as vegaVersion } from "vega";
import { version as vegaLiteVersion } from "vega-lite";
import { renderCharts, type Chart } from "./charts.js";
import type { Comparison } from "./comparison.js";
import { toCsv } from "./csv.js";
import { htmlPage } from "./html-page.js";
import { defaultTarget, summaryTable, type SummaryTable } from "./summary-table.js";

export interface WrittenReport {
  html: string;
  csv: string;
  json: string;
  /** The comparison as written (with the default target filled in when none was given). */
  comparison: Comparison;
  table: SummaryTable;
  charts: Chart[];
}

/** The CSV's columns past the table's: what varied, and how each run went. */
function csvOf(c: Comparison, t: SummaryTable): string {
  const header = [...t.columns.map((col) => col.key), ...c.keys.map((k) => `--${k}`), "elapsed_s", "exit_code", "run_dir", "error"];
  const rows = c.configs.map((run, r) => [...t.rows[r]!, ...c.keys.map((k) => run.settings[k]), run.elapsed_s, run.exit_code, run.run_dir, run.error]);
  return toCsv(header, rows);
}

/**
 * Writes report.html, results.csv and results.json into `dir` (created if missing).
 *
 * @param dir the report folder
 * @param comparison what was run and measured; without a target, the default (defaultTarget) is used
 * @returns the paths written, and the table and charts they show
 */
export async function writeReport(dir: string, comparison: Comparison): Promise<WrittenReport> {
  const target = comparison.target ?? (() => {
    const value = defaultTarget(comparison);
    return value === undefined ? undefined : { value, source: "default: the best value the weakest finished configuration reached" };
  })();
  const c: Comparison = { ...comparison, ...(target === undefined ? {} : { target }) };
  const table = summaryTable(c);
  const charts = await renderCharts(c);
  mkdirSync(dir, { recursive: true });
  const paths = { html: join(dir, "report.html"), csv: join(dir, "results.csv"), json: join(dir, "results.json") };
  const summary = c.configs.map((_, r) => Object.fromEntries(table.columns.map((col, i) => [col.key, table.rows[r]![i] ?? null])));
  writeFileSync(paths.json, `${JSON.stringify({ ...c, summary }, null, 1)}\n`);
  writeFileSync(paths.csv, csvOf(c, table));
  writeFileSync(paths.html, htmlPage(c, table, charts, { dir: resolve(dir), drawnWith: `Vega-Lite ${vegaLiteVersion} and Vega ${vegaVersion}` }));
  return { ...paths, comparison: c, table, charts };
}
