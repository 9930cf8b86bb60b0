// The dashboard's page: one HTML file with its style and a small script inline. The script takes
// a snapshot and then deltas from the server's event stream (Note [dashboard updates] in
// run-state.ts) and draws them with Vega-Lite in the browser; the server never draws. Every text
// from the run goes into the page through textContent, never as HTML.
import { MAX_POINTS } from "./run-state.js";

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
:root { --fg:#1d2330; --muted:#667085; --line:#e4e7ec; --bg:#f7f8fa; --ok:#137333; --bad:#b3261e; --warn:#a15c00; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; gap:16px; align-items:baseline; padding:12px 20px; background:#fff; border-bottom:1px solid var(--line); flex-wrap:wrap; }
header h1 { font-size:18px; margin:0; }
#status { padding:2px 10px; border-radius:12px; background:#eef; font-weight:600; }
#status.live { background:#e6f4ea; color:var(--ok); } #status.failed { background:#fce8e6; color:var(--bad); } #status.ended { background:#eef; }
#straggler { font-weight:600; color:var(--warn); }
section.wide { grid-column:1 / -1; }
main { display:grid; grid-template-columns:repeat(auto-fit, minmax(560px, 1fr)); gap:14px; padding:14px 20px; }
section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:10px 14px; min-width:0; }
section h2 { font-size:14px; margin:0 0 6px; color:var(--muted); font-weight:600; text-transform:uppercase; letter-spacing:.04em; }
.chart { min-height:240px; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { text-align:right; padding:3px 6px; border-bottom:1px solid var(--line); white-space:nowrap; }
th:first-child, td:first-child { text-align:left; }
td.running { color:var(--ok); } td.failed { color:var(--bad); }
#timeline { list-style:none; margin:0; padding:0; max-height:260px; overflow:auto; font-size:13px; }
#timeline li { padding:2px 0; border-bottom:1px dotted var(--line); }
#timeline .t { color:var(--muted); display:inline-block; min-width:70px; }
#timeline li[data-kind=failed], #timeline li[data-kind=lost] { color:var(--bad); }
#timeline li[data-kind=checkpoint] { color:#1a5fb4; } #timeline li[data-kind=straggler] { color:var(--warn); }
#config pre { margin:0; max-height:260px; overflow:auto; font-size:12px; background:var(--bg); padding:6px; }
#config dl { display:grid; grid-template-columns:max-content 1fr; gap:2px 12px; margin:0 0 8px; }
#config dt { color:var(--muted); } #config dd { margin:0; overflow-wrap:anywhere; }
.empty { color:var(--muted); }
`;

// Kept as plain browser JavaScript (no build step for the page): it reads the snapshot, applies
// each delta, and redraws only the data sets that changed.
const SCRIPT = `
"use strict";
const MAX_POINTS = ${MAX_POINTS};
const S = { points: {}, workers: [], timeline: [], straggler: { ranking: [], named: null }, config: null, train: null, started_at: null, ended: null };
const views = {};
let drawing = Promise.resolve();
let events = null;
// Once the job has ended nothing more will come: the stream is closed rather than retried.
const closeIfEnded = () => { if (S.ended && events) { events.close(); events = null; } };
const $ = (id) => document.getElementById(id);
const workerName = (r) => "worker " + r;
const fmt = (x, d) => (x === null || x === undefined ? "-" : Number(x).toFixed(d));

function lineSpec(field, title) {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json", width: 480, height: 200, autosize: { type: "pad", resize: true }, data: { name: "points" },
    transform: [{ filter: "isValid(datum." + field + ")" }],
    mark: { type: "line", interpolate: "linear" },
    encoding: {
      x: { field: "step", type: "quantitative", title: "step" },
      y: { field: field, type: "quantitative", title: title, scale: { zero: false } },
      color: { field: "worker", type: "nominal", title: null },
      // Replicas of one model may report the same loss: the dashes keep each line visible.
      strokeDash: { field: "worker", type: "nominal", title: null },
    },
  };
}
const SPECS = {
  loss: lineSpec("loss", "loss"),
  throughput: lineSpec("sps", "samples/s"),
  split: {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json", width: 480, height: 200, autosize: { type: "pad", resize: true }, data: { name: "split" },
    mark: "bar",
    encoding: {
      x: { field: "worker", type: "nominal", title: null, axis: { labelAngle: 0 } },
      xOffset: { field: "part", sort: ["compute", "communication", "waiting"] },
      y: { field: "ms", type: "quantitative", title: "ms per step (mean of the last 20)" },
      color: { field: "part", type: "nominal", sort: ["compute", "communication", "waiting"], title: null },
    },
  },
  bytes: {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json", width: 480, height: 200, autosize: { type: "pad", resize: true }, data: { name: "bytes" },
    mark: "bar",
    encoding: {
      x: { field: "worker", type: "nominal", title: null, axis: { labelAngle: 0 } },
      y: { field: "MB", type: "quantitative", title: "MB sent" },
      color: { field: "worker", type: "nominal", legend: null },
    },
  },
};

function pointRows(rank, pts) {
  return pts.map((p) => ({ rank: Number(rank), worker: workerName(rank), step: p[0], time: p[1], loss: p[2], sps: p[3] }));
}
function splitRows() {
  return S.workers.flatMap((w) => w.compute_ms === null ? [] : [
    { worker: workerName(w.rank), part: "compute", ms: w.compute_ms },
    { worker: workerName(w.rank), part: "communication", ms: w.comm_ms },
    { worker: workerName(w.rank), part: "waiting", ms: w.wait_ms },
  ]);
}
function bytesRows() {
  return S.workers.filter((w) => w.bytes_sent !== null).map((w) => ({ worker: workerName(w.rank), MB: w.bytes_sent / 1e6 }));
}

async function makeViews() {
  for (const [id, spec] of Object.entries(SPECS)) {
    const el = $("chart-" + id);
    spec.width = Math.max(240, el.clientWidth - 130);
    const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: "svg", container: el, hover: false });
    await view.runAsync();
    views[id] = view;
  }
}
function replace(view, name, rows) {
  view.change(name, vega.changeset().remove(() => true).insert(rows));
}
function draw(newPoints, whole) {
  drawing = drawing.then(async () => {
    for (const id of ["loss", "throughput"]) {
      const v = views[id];
      if (whole) replace(v, "points", Object.entries(S.points).flatMap(([r, pts]) => pointRows(r, pts)));
      else v.change("points", vega.changeset().insert(Object.entries(newPoints).flatMap(([r, pts]) => pointRows(r, pts))));
      await v.runAsync();
    }
    replace(views.split, "split", splitRows());
    await views.split.runAsync();
    replace(views.bytes, "bytes", bytesRows());
    await views.bytes.runAsync();
  }).catch((e) => console.error("drawing failed: " + e.message));
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}
function renderWorkers() {
  const body = $("workers").querySelector("tbody");
  body.replaceChildren();
  for (const w of S.workers) {
    const tr = document.createElement("tr");
    tr.dataset.rank = String(w.rank);
    tr.dataset.pid = w.pid === null ? "" : String(w.pid);
    tr.dataset.status = w.status;
    cell(tr, workerName(w.rank) + (w.member ? " (" + w.member + ")" : ""));
    cell(tr, w.pid === null ? "-" : String(w.pid));
    cell(tr, w.status === "failed" && w.how ? w.how : w.status, w.status);
    cell(tr, w.step === null ? "-" : String(w.step));
    cell(tr, fmt(w.loss, 4));
    cell(tr, fmt(w.samples_per_s, 0));
    cell(tr, fmt(w.compute_ms, 1));
    cell(tr, fmt(w.comm_ms, 1));
    cell(tr, fmt(w.wait_ms, 1));
    cell(tr, w.bytes_sent === null ? "-" : (w.bytes_sent / 1e6).toFixed(1));
    cell(tr, String((S.points[w.rank] || []).length), "points");
    body.appendChild(tr);
  }
}
function renderStraggler() {
  const named = S.straggler.named;
  const banner = $("straggler");
  banner.dataset.rank = named ? String(named.rank) : "";
  banner.textContent = named ? "straggler: worker " + named.rank + " (the others wait " + named.score_ms.toFixed(1) + " ms per step for it; the slowest in " + named.slowest_steps + " of the last 10 steps)" : "";
  const body = $("ranking").querySelector("tbody");
  body.replaceChildren();
  for (const s of S.straggler.ranking) {
    const tr = document.createElement("tr");
    tr.dataset.rank = String(s.rank);
    cell(tr, workerName(s.rank) + (named && named.rank === s.rank ? " (straggler)" : ""));
    cell(tr, s.score_ms.toFixed(2));
    cell(tr, String(s.slowest_steps));
    body.appendChild(tr);
  }
  $("ranking-empty").hidden = S.straggler.ranking.length > 0;
}
function timelineItem(e) {
  const li = document.createElement("li");
  li.dataset.kind = e.kind;
  if (e.rank !== undefined) li.dataset.rank = String(e.rank);
  if (e.step !== undefined) li.dataset.step = String(e.step);
  const t = document.createElement("span");
  t.className = "t";
  const base = S.started_at ?? e.time;
  t.textContent = "+" + ((e.time - base) / 1000).toFixed(1) + " s";
  li.append(t, document.createTextNode(e.text));
  return li;
}
function addTimeline(entries) {
  const list = $("timeline");
  for (const e of entries) list.prepend(timelineItem(e));
  while (list.children.length > 1000) list.lastChild.remove();
}
function renderConfig() {
  const dl = $("config").querySelector("dl");
  dl.replaceChildren();
  const c = S.config;
  const rows = c ? [["job", c.job_id], ["run folder", c.run_dir], ["workers", c.nproc + " on node " + c.node_rank + " of " + c.nnodes + ", " + c.world_size + " in all"],
    ["elastic", c.elastic ? "--min " + c.elastic.min + " --max " + c.elastic.max + " --max-restarts " + c.elastic.maxRestarts : "no"],
    // weft train's worker program is weft's own: the job it runs (below) is what says what trains.
    ["script", S.train ? "weft train " + S.train.recipe + " (--strategy " + S.train.strategy + ", " + S.train.workers + " workers)" : c.script]] : [["job", "no launcher events in this folder (a run from before they were written)"]];
  for (const [k, v] of rows) {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v;
    dl.append(dt, dd);
  }
  $("config").querySelector("pre").textContent = S.train ? JSON.stringify(S.train, null, 2) : c ? c.args.join(" ") : "";
}
function renderStatus(connected) {
  const st = $("status");
  if (S.ended) {
    st.className = S.ended.exit_code === 0 ? "ended" : "failed";
    st.textContent = S.ended.exit_code === 0 ? "job finished" : "job failed (exit code " + S.ended.exit_code + ")";
  } else {
    st.className = connected ? "live" : "";
    st.textContent = connected ? "live" : "disconnected";
  }
}
function halve() {
  let whole = false;
  for (const r of Object.keys(S.points)) {
    if (S.points[r].length > MAX_POINTS) { S.points[r] = S.points[r].filter((_, i) => i % 2 === 0); whole = true; }
  }
  return whole;
}
function applySnapshot(s) {
  Object.assign(S, s);
  $("timeline").replaceChildren();
  addTimeline(S.timeline);
  renderConfig(); renderWorkers(); renderStraggler(); renderStatus(true);
  halve();
  draw({}, true);
  closeIfEnded();
}
function applyDelta(d) {
  for (const [r, pts] of Object.entries(d.points)) (S.points[r] ??= []).push(...pts);
  if (d.workers) S.workers = d.workers;
  if (d.straggler) S.straggler = d.straggler;
  if (d.config) { S.config = d.config; S.train = d.train ?? null; S.started_at = d.started_at ?? S.started_at; renderConfig(); }
  if (d.ended) S.ended = d.ended;
  S.timeline.push(...d.timeline);
  if (S.timeline.length > 1000) S.timeline = S.timeline.slice(-1000);
  addTimeline(d.timeline);
  const whole = halve();
  renderWorkers(); renderStraggler(); renderStatus(true);
  draw(d.points, whole);
  closeIfEnded();
}

// For tests and the curious: what each curve holds, as drawn.
window.weftDashboard = {
  state: S,
  async drawn(rank) { await drawing; return views.loss ? views.loss.data("points").filter((d) => d.rank === rank).length : 0; },
};

makeViews().then(() => {
  events = new EventSource("events");
  events.addEventListener("snapshot", (m) => applySnapshot(JSON.parse(m.data)));
  events.addEventListener("delta", (m) => applyDelta(JSON.parse(m.data)));
  events.onerror = () => renderStatus(false);
}).catch((e) => console.error("the dashboard could not start: " + e.message));
`;

/** The page of one run; its event stream is `events`, beside it. */
export function runPage(title: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<style>${STYLE}</style>
<script src="/vendor/vega.min.js"></script><script src="/vendor/vega-lite.min.js"></script>
</head><body>
<header><h1>${escapeHtml(title)}</h1><span id="status">connecting</span><span id="straggler" data-rank=""></span></header>
<main>
<section><h2>Loss per worker</h2><div class="chart" id="chart-loss"></div></section>
<section><h2>Throughput per worker</h2><div class="chart" id="chart-throughput"></div></section>
<section><h2>Step time: compute, communication, waiting</h2><div class="chart" id="chart-split"></div></section>
<section><h2>Bytes sent per worker</h2><div class="chart" id="chart-bytes"></div></section>
<section class="wide"><h2>Workers</h2><table id="workers"><thead><tr><th>worker</th><th>pid</th><th>status</th><th>step</th><th>loss</th><th>samples/s</th><th>compute ms</th><th>comm ms</th><th>waiting ms</th><th>MB sent</th><th>points</th></tr></thead><tbody></tbody></table></section>
<section><h2>Straggler ranking</h2><p class="empty" id="ranking-empty">no per-peer waits yet (one worker, or no step counted by every rank)</p>
<table id="ranking"><thead><tr><th>worker</th><th>others wait for it (ms/step)</th><th>slowest of last 10</th></tr></thead><tbody></tbody></table></section>
<section><h2>Membership timeline</h2><ul id="timeline"></ul></section>
<section id="config" class="wide"><h2>Configuration</h2><dl></dl><pre></pre></section>
</main>
<script>${SCRIPT}</script>
</body></html>
`;
}

/** A `weft compare` report's runs, each linked to its own dashboard. */
export function runsIndexPage(title: string, runs: readonly { label: string; href?: string; note: string }[]): string {
  const name = (r: { label: string; href?: string }): string => (r.href === undefined ? escapeHtml(r.label) : `<a href="${escapeHtml(r.href)}">${escapeHtml(r.label)}</a>`);
  const rows = runs.map((r) => `<tr><td>${name(r)}</td><td>${escapeHtml(r.note)}</td></tr>`).join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><link rel="icon" href="data:,">
<style>${STYLE}</style></head><body>
<header><h1>${escapeHtml(title)}</h1></header>
<main><section><h2>Runs</h2><table id="runs"><thead><tr><th>configuration</th><th>how it ended</th></tr></thead><tbody>
${rows}
</tbody></table></section></main></body></html>
`;
}
