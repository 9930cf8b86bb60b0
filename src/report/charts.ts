// The report's charts as SVG text, drawn when the report is written: each chart is a Vega-Lite
// specification (a line per configuration, coloured by it, with a legend naming each), compiled to
// Vega by `vega-lite` and rendered headless by `vega`'s View.toSVG(), which needs no canvas and no
// browser. The page then holds plain SVG: it opens offline and has no script of its own.
//
// Every chart colours configurations through one scale whose domain is all of them, in grid order,
// so a configuration keeps its colour across the charts even where it has no points (a run that
// failed, a measure it does not report).
import { parse, View } from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import type { Comparison, ConfigRun } from "./comparison.js";

/** One chart of the page: its id (`data-chart` on the page), title and SVG, or why it is empty. */
export interface Chart {
  id: string;
  title: string;
  /** The SVG element, or undefined when no configuration has a point to draw (then `empty` says why). */
  svg?: string;
  empty?: string;
  /** Configurations with at least one point in this chart (each is one line). */
  lines: string[];
}

interface Row {
  config: string;
  x: number;
  y: number;
}

/** A line of at most this many points per configuration: a per-step curve of a long run would be megabytes of SVG and no clearer. */
export const MAX_POINTS = 400;

/**
 * Every k-th point so that at most `max` remain, always keeping the last.
 *
 * @example
 * ```ts
 * assert.deepEqual(thin([1, 2, 3, 4, 5, 6, 7], 3), [1, 4, 7]);
 * assert.deepEqual(thin([1, 2], 3), [1, 2]);
 * ```
 */
export function thin<T>(points: readonly T[], max: number): T[] {
  if (points.length <= max) return [...points];
  const every = Math.ceil((points.length - 1) / (max - 1));
  const kept = points.filter((_, i) => i % every === 0);
  if ((points.length - 1) % every !== 0) kept.push(points.at(-1)!);
  return kept;
}

interface ChartPlan {
  id: string;
  title: string;
  x: { title: string; log?: boolean };
  y: { title: string; zero?: boolean };
  /** Mark each measurement with a dot (evaluations are few; per-step losses are a line). */
  dots: boolean;
  /** Draw the trailing mean of the last few points (per-step losses jump from batch to batch). */
  smooth: boolean;
  points(run: ConfigRun): { x: number | undefined; y: number }[];
  empty: string;
}

function plans(c: Comparison): ChartPlan[] {
  const metric = c.metric.name;
  const MB = 1e6;
  return [
    {
      id: "metric-time", title: `${metric} against wall-clock time`,
      x: { title: "wall-clock time since training started (s)" }, y: { title: metric, zero: false }, dots: true, smooth: false,
      points: (r) => r.curves.metric.map((p) => ({ x: p.wall_s, y: p.value })),
      empty: `no configuration reported ${metric} during training`,
    },
    {
      id: "metric-bytes", title: `${metric} against bytes sent`,
      x: { title: "bytes sent per worker (MB)" }, y: { title: metric, zero: false }, dots: true, smooth: false,
      points: (r) => r.curves.metric.map((p) => ({ x: p.bytes_sent === undefined ? undefined : p.bytes_sent / MB, y: p.value })),
      empty: "no configuration reported the bytes it sent",
    },
    {
      id: "loss-step", title: "training loss against step",
      x: { title: "step" }, y: { title: "training loss", zero: false }, dots: false, smooth: true,
      points: (r) => r.curves.loss.map((p) => ({ x: p.step, y: p.loss })),
      empty: "no configuration reported a training loss",
    },
    {
      id: "loss-time", title: "training loss against wall-clock time",
      x: { title: "wall-clock time since training started (s)" }, y: { title: "training loss", zero: false }, dots: false, smooth: true,
      // Sorted by time: the ranks of an asynchronous run reach a step at different times (run-curves.ts).
      points: (r) => r.curves.loss.filter((p) => p.wall_s !== undefined).map((p) => ({ x: p.wall_s!, y: p.loss })).sort((a, b) => a.x - b.x),
      empty: "no configuration reported step times",
    },
  ];
}

function spec(plan: ChartPlan, rows: Row[], labels: string[]): TopLevelSpec {
  return {
    width: 480, height: 250, background: "white", padding: 8,
    data: { values: rows },
    // What a screen reader (and a test) reads for each line: the configuration it belongs to.
    transform: [{ calculate: "'configuration: ' + datum.config", as: "description" }],
    // Dots as well as lines where points are few: a run evaluated once still shows up.
    mark: { type: "line", ...(plan.dots ? { point: { size: 28, filled: true } } : {}), strokeWidth: 1.75, clip: true },
    encoding: {
      x: { field: "x", type: "quantitative", title: plan.x.title },
      y: { field: "y", type: "quantitative", title: plan.y.title, scale: { zero: plan.y.zero ?? true } },
      color: {
        field: "config", type: "nominal", title: "configuration",
        scale: { domain: labels, scheme: labels.length <= 10 ? "tableau10" : "tableau20" },
        legend: { labelLimit: 440, orient: "bottom", direction: "vertical", columns: 2 },
      },
      // Each line follows its points in the order they were measured, not sorted by x.
      order: { field: "i", type: "quantitative" },
      description: { field: "description", type: "nominal" },
    },
    config: { font: "Helvetica, Arial, sans-serif", axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelFontSize: 12, titleFontSize: 12 } },
  };
}

/** Points in a chart's longest line per point of smoothing window: 500 steps are drawn as the mean of the last 10. */
const STEPS_PER_WINDOW = 50;

/**
 * Each y replaced by the mean of it and the `window - 1` before it (fewer at the start).
 *
 * @example
 * ```ts
 * assert.deepEqual(trailingMean([{ x: 1, y: 4 }, { x: 2, y: 2 }, { x: 3, y: 0 }], 2), [{ x: 1, y: 4 }, { x: 2, y: 3 }, { x: 3, y: 1 }]);
 * ```
 */
export function trailingMean(points: readonly { x: number; y: number }[], window: number): { x: number; y: number }[] {
  let sum = 0;
  return points.map((p, i) => {
    sum += p.y - (i >= window ? points[i - window]!.y : 0);
    return { x: p.x, y: sum / Math.min(i + 1, window) };
  });
}

/**
 * Vega numbers its clip paths and gradients from 1 in every SVG; several SVGs inline in one page
 * would share those ids, and each chart would clip to the first one's rectangle. Prefix them.
 */
function ownIds(svg: string, prefix: string): string {
  return svg.replaceAll(/\bid="([^"]+)"/g, `id="${prefix}-$1"`).replaceAll(/url\(#([^)]+)\)/g, `url(#${prefix}-$1)`).replaceAll(/href="#([^"]+)"/g, `href="#${prefix}-$1"`);
}

async function render(s: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(s).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * The report's charts: the metric against wall-clock time and against bytes sent, and the training
 * loss against step and against time; one line per configuration that has points in each.
 */
export async function renderCharts(c: Comparison): Promise<Chart[]> {
  const labels = c.configs.map((r) => r.label);
  const charts: Chart[] = [];
  for (const plan of plans(c)) {
    const series = c.configs.map((run) => ({
      run, points: plan.points(run).filter((p): p is { x: number; y: number } => p.x !== undefined && Number.isFinite(p.x) && Number.isFinite(p.y)),
    }));
    // One window for every line of the chart, so that the lines stay comparable.
    const window = plan.smooth ? Math.max(1, Math.round(Math.max(...series.map((s) => s.points.length)) / STEPS_PER_WINDOW)) : 1;
    const title = window > 1 ? `${plan.title} (mean of the last ${window} steps)` : plan.title;
    const rows: (Row & { i: number })[] = [];
    const lines: string[] = [];
    for (const { run, points } of series) {
      if (points.length === 0) continue;
      lines.push(run.label);
      thin(window > 1 ? trailingMean(points, window) : points, MAX_POINTS).forEach((p, i) => rows.push({ config: run.label, x: p.x, y: p.y, i }));
    }
    if (rows.length === 0) {
      charts.push({ id: plan.id, title, empty: plan.empty, lines });
      continue;
    }
    charts.push({ id: plan.id, title, svg: ownIds(await render(spec(plan, rows, labels)), plan.id), lines });
  }
  return charts;
}
