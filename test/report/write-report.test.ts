// The report writer, from a fixed made-up comparison: the table's rows, the CSV's columns, the
// JSON's curves, and in each chart one SVG line per configuration, named by its legend label.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { RunStatus } from "../../src/report/comparison.js";
import { htmlPage } from "../../src/report/html-page.js";
import { summaryTable, tableText } from "../../src/report/summary-table.js";
import { writeReport } from "../../src/report/write-report.js";
import { sampleComparison } from "./sample-comparison.js";

const LABELS = ["strategy=single", "strategy=ddp workers=2", "strategy=gossip workers=2"];

async function written() {
  const dir = mkdtempSync(join(tmpdir(), "weft-report-"));
  return { dir, report: await writeReport(dir, sampleComparison()) };
}

/** The SVG paths Vega drew for line marks, as (aria-label, d) pairs. */
function linePaths(svg: string): { label: string; d: string }[] {
  return [...svg.matchAll(/<path aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="line mark" d="([^"]*)"/g)].map((m) => ({ label: m[1]!, d: m[2]! }));
}

test("the table has a row per configuration: measures it reported, a dash for the rest, time to the default target", async () => {
  const { dir, report } = await written();
  try {
    const t = report.table;
    const col = (key: string): number => t.columns.findIndex((c) => c.key === key);
    assert.deepEqual(t.text.map((row) => row[0]), LABELS);
    assert.deepEqual(t.text.map((row) => row[col("status")]), ["ok", "ok", "timed out"]);
    assert.deepEqual(t.text.map((row) => row[col("test_accuracy")]), ["91.00%", "90.00%", "—"]);
    // Default target: the best the weaker finished configuration reached (ddp's 0.90).
    assert.ok(Math.abs(report.comparison.target!.value - 0.9) < 1e-12);
    assert.match(report.comparison.target!.source, /^default/);
    assert.deepEqual(t.rows.map((row) => row[col("time_to_target_s")]), [6, 3.75, undefined]);
    assert.deepEqual(t.text.map((row) => row[col("bytes_sent_per_worker")]), ["0 B", "24.0 MB", "—"]);
    assert.deepEqual(t.text.map((row) => row[col("staleness_max")]), ["—", "2", "—"]);
    assert.deepEqual(t.text.map((row) => row[col("consensus_distance")]), ["—", "0.0123", "—"]);
    assert.deepEqual(t.rows.map((row) => row[col("steps")]), [120, 120, undefined]);
    const text = tableText(t).split("\n");
    assert.equal(text.length, 2 + 3);
    assert.match(text[0]!, /^configuration +status +test_accuracy +wall time \(s\) +time to 90\.00% \(s\)/);
    assert.match(text[4]!, /^strategy=gossip workers=2 +timed out +— +—/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("results.csv has the table's columns, what varied and how each run ended; results.json every curve", async () => {
  const { dir, report } = await written();
  try {
    const lines = readFileSync(report.csv, "utf8").split("\r\n");
    assert.equal(lines.at(-1), "", "ends with a line break");
    assert.deepEqual(lines[0]!.split(","), [
      "configuration", "status", "test_accuracy", "wall_s", "time_to_target_s", "bytes_sent_per_worker", "step_ms_mean", "step_ms_p90",
      "staleness_mean", "staleness_max", "consensus_distance", "samples_per_s", "steps", "--strategy", "--workers", "elapsed_s", "exit_code", "run_dir", "error",
    ]);
    assert.equal(lines.length, 1 + 3 + 1);
    assert.deepEqual(lines[1]!.split(",").slice(0, 5), ["strategy=single", "ok", String(0.8 + 0.12 - 0.01), "6", "6"]);
    assert.deepEqual(lines[2]!.split(",").slice(8, 11), ["0.5", "2", "0.0123"]);
    assert.deepEqual(lines[3]!.split(","), ["strategy=gossip workers=2", "timed out", "", "", "", "", "", "", "", "", "", "", "", "gossip", "2", "8.75", "", "", "ran past --time-limit 5 s"]);

    const json = JSON.parse(readFileSync(report.json, "utf8")) as ReturnType<typeof sampleComparison> & { summary: Record<string, unknown>[] };
    assert.equal(json.configs.length, 3);
    assert.equal(json.configs[0]!.curves.loss.length, 120);
    assert.equal(json.configs[2]!.curves.metric.length, 2);
    assert.equal(json.summary[1]!.staleness_mean, 0.5);
    assert.equal(json.summary[2]!.test_accuracy, null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("each chart draws one SVG line per configuration, each named by its configuration, in the shared colour order", async () => {
  const { dir, report } = await written();
  try {
    assert.deepEqual(report.charts.map((c) => c.id), ["metric-time", "metric-bytes", "loss-step", "loss-time"]);
    const colours: string[][] = [];
    for (const chart of report.charts) {
      assert.ok(chart.svg, `${chart.id} has an SVG`);
      const paths = linePaths(chart.svg);
      assert.equal(paths.length, 3, `${chart.id}: ${paths.length} line paths`);
      assert.deepEqual(paths.map((p) => /^configuration: (.*)$/.exec(p.label)?.[1]), LABELS, chart.id);
      for (const p of paths) assert.match(p.d, /^M[\d.-]+,[\d.-]+(L[\d.-]+,[\d.-]+)+$/, `${chart.id}: a line of several points`);
      colours.push([...chart.svg.matchAll(/aria-roledescription="line mark" d="[^"]*" stroke="(#[0-9a-f]{6})"/g)].map((m) => m[1]!));
      // The legend names every configuration.
      for (const label of LABELS) assert.ok(chart.svg.includes(`>${label}</text>`), `${chart.id}: legend names ${label}`);
    }
    for (const c of colours) assert.deepEqual(c, colours[0], "a configuration keeps its colour in every chart");
    assert.equal(new Set(colours[0]).size, 3);

    const page = readFileSync(report.html, "utf8");
    assert.equal((page.match(/<tr data-config=/g) ?? []).length, 3);
    assert.equal((page.match(/<svg /g) ?? []).length, 4);
    assert.doesNotMatch(page, /<script|<link|<img|@import|url\(["']?http|(?:src|href)="https?:/i, "nothing is loaded from elsewhere");
    const ids = [...page.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]!);
    assert.equal(new Set(ids).size, ids.length, "no two SVGs share an id");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a chart no configuration has points for says so instead of drawing nothing", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-report-"));
  try {
    const c = sampleComparison();
    for (const run of c.configs) {
      for (const p of run.curves.metric) delete p.bytes_sent;
    }
    const report = await writeReport(dir, c);
    const bytes = report.charts.find((ch) => ch.id === "metric-bytes")!;
    assert.equal(bytes.svg, undefined);
    assert.equal(bytes.empty, "no configuration reported the bytes it sent");
    assert.match(readFileSync(report.html, "utf8"), /<p class="empty">no configuration reported the bytes it sent<\/p>/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("every class the page's own HTML uses has a CSS rule, for a run of each status (an error line included)", () => {
  const c = sampleComparison();
  const statuses: RunStatus[] = ["failed", "interrupted", "not run"];
  const base = c.configs[0]!;
  c.configs.push(...statuses.map((status, i) => ({ ...base, id: `${4 + i}-x`, label: `strategy=x${i}`, status, error: `why it ${status}`, result: undefined, curves: { metric: [], loss: [], step_ms: [] } })));
  const page = htmlPage(c, summaryTable(c), [], { dir: "/report", drawnWith: "test" });
  const css = /<style>([\s\S]*?)<\/style>/.exec(page)![1]!;
  // The page's own markup: the SVG charts carry Vega's classes, styled by Vega's own attributes.
  const html = page.replace(/<style>[\s\S]*?<\/style>/, "").replaceAll(/<svg[\s\S]*?<\/svg>/g, "");
  const classes = new Set([...html.matchAll(/\bclass="([^"]*)"/g)].flatMap((m) => m[1]!.split(/\s+/).filter((x) => x !== "")));
  for (const status of ["ok", "failed", "timed-out", "interrupted", "not-run"]) assert.ok(classes.has(`status-${status}`), `the page uses status-${status}`);
  assert.ok(classes.has("error"), "a run that did not finish says why in a span.error");
  for (const name of classes) assert.match(css, new RegExp(`\\.${name.replaceAll("-", "\\-")}(?![\\w-])`), `a CSS rule for .${name}`);
});

test("the step p90 a result line lacks is the nearest-rank percentile of the run's step times, and missing when it has none", () => {
  const c = sampleComparison();
  const [first, second] = c.configs;
  first!.result = { ...first!.result! };
  delete first!.result.step_ms_p90;
  first!.curves.step_ms = [5, 1, 4, 2, 3, 10, 6, 7, 9, 8];
  second!.result = { ...second!.result! };
  delete second!.result.step_ms_p90;
  second!.curves.step_ms = [];
  const t = summaryTable(c);
  const p90 = t.columns.findIndex((col) => col.key === "step_ms_p90");
  assert.deepEqual(t.rows.map((row) => row[p90]), [9, undefined, undefined]);
});
