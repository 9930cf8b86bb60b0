// What one run of `weft bench compression` measured, read from what its two workers left in their
// machines' run folders (the result each wrote, rank 0's per-step metrics), and the table over all
// runs that the bench prints on stderr.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { BenchLink } from "./compression-options.js";
import { median } from "./median.js";
import { linkMbit } from "./netns-link.js";

/** The file each worker writes its result to, in its run folder. */
export const compressionResultFile = (rank: number): string => `compression-rank-${rank}.json`;

/** Steps at the end whose mean loss is `train_loss`: one batch's loss alone moves by more than the hooks' differences. */
export const TAIL_STEPS = 10;

/** One JSON line of the bench: one hook on one link. */
export interface CompressionLine {
  bench: "compression";
  recipe: string;
  link: string;
  /** The link's cap in Mbit/s; null without one. */
  link_mbit: number | null;
  hook: string;
  repeat: number;
  workers: number;
  steps: number;
  /** Bytes a worker sent per step: the two workers' bytes_sent, averaged, over the steps. */
  bytes_per_step: number;
  /** Median over the steps of rank 0's step time (compute and waiting on communication). */
  step_ms_median: number;
  /** Median over the steps of the time rank 0's step waited on communication. */
  wait_ms_median: number;
  /** The training loop's wall time (rank 0), evaluation left out. */
  wall_s: number;
  /** Mean training loss (averaged over the ranks) of the last TAIL_STEPS steps. */
  train_loss: number;
  /** The recipe's metric after the last step, and its value. */
  metric: string;
  value: number;
  replicas_identical: boolean;
  /** How the two workers talked: "tcp" across the link. */
  transport: string;
}

/** The fields of a worker's result the line is made from (the rest of runRecipe's result is ignored). */
interface WorkerResult {
  recipe: string;
  workers: number;
  steps: number;
  metric: string;
  value: number;
  wall_s: number;
  bytes_sent: number;
  digest: string;
  transport: string;
}

/** One line of rank 0's metrics stream (MetricsWriter): a step's, or an event's. */
interface MetricsRow {
  step: number;
  event?: string;
  loss?: number;
  compute_ms?: number;
  wait_ms?: number;
}

/**
 * The line of one run from its two run folders (`folders[i]` holds rank i's result; rank 0's also
 * its metrics stream, rank-0.jsonl).
 *
 * @example Two folders as two workers leave them
 * ```ts
 * const { mkdtempSync, writeFileSync } = await import("node:fs");
 * const { join } = await import("node:path");
 * const { tmpdir } = await import("node:os");
 * const folders = [0, 1].map(() => mkdtempSync(join(tmpdir(), "node-")));
 * const result = { recipe: "r", workers: 2, steps: 2, metric: "val_loss", value: 1.5, wall_s: 3, digest: "d", transport: "tcp" };
 * folders.forEach((f, r) => writeFileSync(join(f, compressionResultFile(r)), JSON.stringify({ ...result, bytes_sent: 100 + 20 * r })));
 * writeFileSync(join(folders[0]!, "rank-0.jsonl"), '{"step":1,"loss":4,"compute_ms":8,"wait_ms":2}\n{"step":2,"loss":2,"compute_ms":6,"wait_ms":0}\n');
 * const line = runLine(folders as [string, string], { link: { name: "100mbit", rate: "100mbit" }, hook: "none", repeat: 0 });
 * assert.deepEqual([line.bytes_per_step, line.step_ms_median, line.train_loss, line.link_mbit], [55, 8, 3, 100]);
 * ```
 */
export function runLine(folders: readonly [string, string], run: { link: BenchLink; hook: string; repeat: number }): CompressionLine {
  const [r0, r1] = folders.map((f, rank) => JSON.parse(readFileSync(join(f, compressionResultFile(rank)), "utf8")) as WorkerResult) as [WorkerResult, WorkerResult];
  const steps = readFileSync(join(folders[0], "rank-0.jsonl"), "utf8").split("\n").filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as MetricsRow).filter((m) => m.event === undefined && m.loss !== undefined);
  const tail = steps.slice(-TAIL_STEPS);
  return {
    bench: "compression", recipe: r0.recipe, link: run.link.name, link_mbit: linkMbit(run.link.rate) ?? null,
    hook: run.hook, repeat: run.repeat, workers: r0.workers, steps: r0.steps,
    bytes_per_step: Math.round((r0.bytes_sent + r1.bytes_sent) / 2 / r0.steps),
    step_ms_median: round(median(steps.map((m) => (m.compute_ms ?? 0) + (m.wait_ms ?? 0)))),
    wait_ms_median: round(median(steps.map((m) => m.wait_ms ?? 0))),
    wall_s: r0.wall_s,
    // Unrounded: hooks that change little (bf16) differ in the last digits only.
    train_loss: tail.reduce((s, m) => s + m.loss!, 0) / tail.length,
    metric: r0.metric, value: r0.value,
    replicas_identical: r0.digest === r1.digest, transport: r0.transport,
  };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/**
 * The summary table of the lines: per link and hook the median over repeats of each figure, with
 * bytes and the metric also against the `none` hook's on the same link (DDP's own all-reduce).
 * "wait ms" is the time a step waited on communication: on a machine shared with other work it
 * moves far less than the step time, whose compute takes the other work's noise.
 *
 * @example
 * ```ts
 * const base = { bench: "compression", recipe: "r", link_mbit: 100, repeat: 0, workers: 2, steps: 9, wait_ms_median: 0, wall_s: 1, train_loss: 2, metric: "val_loss", replicas_identical: true, transport: "tcp" } as const;
 * const table = summaryTable([
 *   { ...base, link: "100mbit", hook: "none", bytes_per_step: 2000, step_ms_median: 30, value: 2 },
 *   { ...base, link: "100mbit", hook: "powersgd:4", bytes_per_step: 100, step_ms_median: 10, value: 2.05 },
 * ]);
 * assert.match(table, /100mbit +powersgd:4 +100 +20\.0x +10\.0 +0\.0 +1\.0 +2\.0000 +2\.0500 +\+2\.50%/);
 * ```
 */
export function summaryTable(lines: readonly CompressionLine[]): string {
  const key = (l: CompressionLine): string => `${l.link}\u0000${l.hook}`;
  const groups = new Map<string, CompressionLine[]>();
  for (const l of lines) groups.set(key(l), [...(groups.get(key(l)) ?? []), l]);
  const med = (ls: CompressionLine[], f: (l: CompressionLine) => number): number => median(ls.map(f));
  const metric = lines[0]?.metric ?? "metric";
  const head = ["link", "hook", "bytes/step", "vs DDP", "ms/step", "wait ms", "wall s", "train loss", metric, `${metric} vs DDP`];
  const rows = [...groups.values()].map((ls) => {
    const l = ls[0]!;
    const ddp = groups.get(`${l.link}\u0000none`);
    const bytes = med(ls, (x) => x.bytes_per_step);
    const value = med(ls, (x) => x.value);
    const ddpValue = ddp ? med(ddp, (x) => x.value) : NaN;
    return [
      l.link, l.hook, String(bytes),
      ddp ? `${(med(ddp, (x) => x.bytes_per_step) / bytes).toFixed(1)}x` : "-",
      med(ls, (x) => x.step_ms_median).toFixed(1), med(ls, (x) => x.wait_ms_median).toFixed(1), med(ls, (x) => x.wall_s).toFixed(1),
      med(ls, (x) => x.train_loss).toFixed(4), value.toFixed(4),
      ddp ? `${value >= ddpValue ? "+" : ""}${((100 * (value - ddpValue)) / ddpValue).toFixed(2)}%` : "-",
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ")).join("\n");
}
