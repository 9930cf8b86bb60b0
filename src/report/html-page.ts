// The report as one HTML page that opens offline: inline CSS, the charts as inline SVG (drawn by
// charts.ts), the table, and per configuration the `weft train` command it ran and links to its
// run folder and log. No script, no font, no image is loaded from anywhere: the page is the file.
import { isAbsolute, relative, sep } from "node:path";
import type { Chart } from "./charts.js";
import type { Comparison } from "./comparison.js";
import { formatMetric, shownColumns, type SummaryTable } from "./summary-table.js";

/** Text made safe inside HTML elements and quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

/** A shell word as the user would type it: quoted only when it needs to be (the page's commands, and weft compare's). */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

const CSS = `
  body { font: 14px/1.45 Helvetica, Arial, sans-serif; color: #1d1d1f; margin: 24px auto; max-width: 1180px; padding: 0 16px; }
  h1 { font-size: 22px; margin: 0 0 4px; }
  h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
  code, pre { font: 12px/1.4 Menlo, Consolas, monospace; }
  pre { background: #f5f5f7; padding: 8px 10px; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
  dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0; }
  dl.meta dt { color: #666; }
  table.results { border-collapse: collapse; font-size: 13px; }
  .table-wrap { overflow-x: auto; }
  table.results { width: 100%; }
  table.results th, table.results td { padding: 4px 8px; border-bottom: 1px solid #e5e5e5; text-align: left; white-space: nowrap; }
  table.results th { background: #f5f5f7; font-weight: 600; white-space: normal; vertical-align: bottom; }
  table.results td.num, table.results th.num { text-align: right; font-variant-numeric: tabular-nums; }
  td.status-ok { color: #1a7f37; } td.status-failed, td.status-timed-out, td.status-interrupted { color: #b42318; font-weight: 600; }
  td.status-not-run { color: #666; }
  span.error { color: #b42318; }
  .charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 18px; }
  figure.chart { margin: 0; border: 1px solid #e5e5e5; padding: 8px; }
  figure.chart figcaption { font-weight: 600; margin-bottom: 4px; }
  figure.chart svg { max-width: 100%; height: auto; }
  p.empty { color: #666; font-style: italic; }
  ul.runs li { margin-bottom: 10px; }
  footer { margin-top: 32px; color: #777; font-size: 12px; }
`;

function href(from: string, path: string): string {
  const rel = isAbsolute(path) ? relative(from, path) : path;
  return rel.split(sep).map(encodeURIComponent).join("/");
}

export interface PageOptions {
  /** The folder the page is written to: links to run folders and logs are relative to it. */
  dir: string;
  /** Who drew the charts, for the footer ("Vega-Lite 6.5.0 and Vega 6.4.0"). */
  drawnWith: string;
}

/** The whole page. */
export function htmlPage(c: Comparison, table: SummaryTable, charts: readonly Chart[], o: PageOptions): string {
  const shown = shownColumns(table);
  const head = shown.map((i) => `<th${table.columns[i]!.numeric ? ' class="num"' : ""} data-key="${escapeHtml(table.columns[i]!.key)}">${escapeHtml(table.columns[i]!.title)}</th>`).join("");
  const body = c.configs
    .map((run, r) => {
      const cells = shown.map((i) => {
        const col = table.columns[i]!;
        const cls = col.key === "status" ? `status-${run.status.replaceAll(" ", "-")}` : col.numeric ? "num" : "";
        const title = col.key === "status" && run.error ? ` title="${escapeHtml(run.error)}"` : "";
        return `<td${cls ? ` class="${cls}"` : ""}${title}>${escapeHtml(table.text[r]![i]!)}</td>`;
      });
      return `<tr data-config="${escapeHtml(run.id)}">${cells.join("")}</tr>`;
    })
    .join("\n");
  const figures = charts
    .map((ch) => `<figure class="chart" data-chart="${ch.id}" data-lines="${ch.lines.length}"><figcaption>${escapeHtml(ch.title)}</figcaption>${ch.svg ?? `<p class="empty">${escapeHtml(ch.empty ?? "nothing to draw")}</p>`}</figure>`)
    .join("\n");
  const runs = c.configs
    .map((run) => {
      const links = [
        run.run_dir ? `<a href="${href(o.dir, run.run_dir)}">run folder</a>` : undefined,
        run.log_file ? `<a href="${href(o.dir, run.log_file)}">log</a>` : undefined,
      ].filter((x) => x !== undefined);
      const why = run.error ? `<br><span class="error">${escapeHtml(run.status)}: ${escapeHtml(run.error)}</span>` : "";
      return `<li><strong>${escapeHtml(run.label)}</strong> — ${escapeHtml(run.status)}${run.elapsed_s === undefined ? "" : `, ${run.elapsed_s.toFixed(1)} s in all`}${links.length ? ` (${links.join(", ")})` : ""}${why}<pre>weft train ${escapeHtml(run.argv.map(shellWord).join(" "))}</pre></li>`;
    })
    .join("\n");
  const target = c.target ? `${escapeHtml(formatMetric(c.metric.name)(c.target.value))} (${escapeHtml(c.target.source)})` : "none (no configuration reported the metric)";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>weft compare ${escapeHtml(c.recipe)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>weft compare: ${escapeHtml(c.recipe)}</h1>
<dl class="meta">
<dt>command</dt><dd><code>${escapeHtml(c.command)}</code></dd>
<dt>started</dt><dd>${escapeHtml(c.started)}</dd>
<dt>configurations</dt><dd>${c.configs.length} (${c.configs.filter((r) => r.status === "ok").length} finished)</dd>
<dt>metric</dt><dd>${escapeHtml(c.metric.name)} (${c.metric.higherIsBetter ? "higher" : "lower"} is better)</dd>
<dt>target</dt><dd>${target}</dd>
</dl>
<h2>Results</h2>
<div class="table-wrap"><table class="results">
<thead><tr>${head}</tr></thead>
<tbody>
${body}
</tbody>
</table></div>
<p>Wall time is the training loop's, from the first step to the last: start-up and the final evaluation are not in it, the evaluations during training (the points of the metric's curves) are. A dash means the run did not report that measure. The same numbers are in results.csv and, with every curve, results.json.</p>
<h2>Curves</h2>
<div class="charts">
${figures}
</div>
<h2>Configurations</h2>
<p>Each configuration's <code>weft train</code> command, with its <code>--run-dir</code> relative to this report's folder; the links are relative to it too, so the folder can be moved.</p>
<ul class="runs">
${runs}
</ul>
<footer>Written by weft compare; charts drawn with ${escapeHtml(o.drawnWith)} when the report was written.</footer>
</body>
</html>
`;
}
