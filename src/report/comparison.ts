// What `weft compare` measured, in the shape `results.json` holds: the recipe and its metric, the
// target, and per configuration its flags, how it ended, its `--json` result line and the curves
// read from its run folder. The report writer (write-report.ts) takes one of these and nothing
// else, so a report can be rebuilt, or tested, from a saved or made-up `Comparison`.
//
// Paths in it (run_dir, log_file, the `--run-dir` in argv, the result line's run_dir) are relative
// to the report folder, as weft compare stores them, so that a moved report folder still works.

/** How one configuration's run ended. */
export type RunStatus = "ok" | "failed" | "timed out" | "interrupted" | "not run";

/** One evaluation of the recipe's metric during a run (an "eval" line of rank 0's metrics, or the result). */
export interface MetricPoint {
  step: number;
  /** Seconds since training started. */
  wall_s: number;
  /** Bytes one worker had sent so far (mean over the ranks that reported it), when known. */
  bytes_sent?: number;
  value: number;
}

/** One training step's loss (the mean over the ranks that reported the step). */
export interface LossPoint {
  step: number;
  wall_s?: number;
  bytes_sent?: number;
  loss: number;
}

/** The per-step series of one run, read from its rank-<r>.jsonl files. */
export interface RunCurves {
  metric: MetricPoint[];
  loss: LossPoint[];
  /** Step time (compute + waiting) per step of rank 0, ms: the table's fallback when the result has none. */
  step_ms: number[];
}

/** A field of the `--json` result line: every one but recipe/metric/value is optional. */
export type ResultValue = string | number | boolean | null;

export interface ConfigRun {
  /** Folder-safe and unique: "2-strategy-ddp-workers-2". */
  id: string;
  /** What the legend and table show: the grid's settings, "strategy=ddp workers=2". */
  label: string;
  /** The settings that vary across the grid (KEY → value as given). */
  settings: Record<string, string>;
  /** The full `weft train` argument list this configuration ran with, its `--run-dir` relative to the report folder. */
  argv: string[];
  status: RunStatus;
  /** Exit status of `weft train` (absent when it was not started or was killed). */
  exit_code?: number;
  /** Why it did not finish: the last line `weft train` printed on stderr, or the time limit. */
  error?: string;
  /** Wall-clock seconds the `weft train` process ran, start-up included. */
  elapsed_s?: number;
  /** The `--json` result line, as printed but for its run_dir (relative to the report folder). */
  result?: Record<string, ResultValue>;
  /** The run folder (per-rank metrics and logs), when there is one: relative to the report folder (an absolute path is also read). */
  run_dir?: string;
  /** The file holding what `weft train` printed (stdout, then stderr), relative to the report folder like run_dir. */
  log_file?: string;
  curves: RunCurves;
}

export interface Comparison {
  recipe: string;
  /** The recipe's metric: its name in the result and eval lines, and which way is better. */
  metric: { name: string; higherIsBetter: boolean };
  /** "time to target" is the first time a run's metric reached this. */
  target?: { value: number; source: string };
  /** The comparison's own command line, for the page's header. */
  command: string;
  /** The keys that vary across configurations, in grid order. */
  keys: string[];
  /** ISO time the comparison started. */
  started: string;
  configs: ConfigRun[];
}
