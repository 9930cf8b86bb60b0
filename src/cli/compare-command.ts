// `weft compare <recipe> --grid KEY=V1,V2 ...`: runs one `weft train` per configuration of the grid
// (compare-grid.ts checks the grid first), `--parallel` of them at a time, each under
// `--time-limit`, and writes the report folder (src/report/). Each configuration is a child process
// running this same `weft` entry as `weft train <recipe> <its flags> --json`, so a comparison
// trains through exactly the door a user does, and knows nothing of which strategies exist: what
// it reports is what `weft train`'s result line and metrics streams say.
//
// The report folder holds, besides report.html, results.csv and results.json:
//   runs/<id>/   each configuration's run folder (`weft train --run-dir`): rank-<r>.jsonl, logs
//   logs/<id>.log  what its `weft train` printed
//
// Paths in the report (results.json, results.csv, the page) are relative to the report folder, so
// the folder can be moved or copied and still reads: a run's `--run-dir runs/<id>` is shown so.
//
// A configuration that fails or runs past its time limit is marked so in the table and the next
// one starts. Ctrl-C (SIGINT), SIGTERM or SIGHUP (the terminal went away) stops the running ones
// (SIGTERM to each one's process group, SIGKILL GRACE_MS later, or at once on a second signal),
// writes the report of what finished and exits with 128 + the signal's number. Each
// configuration runs in its own process group (so one signal reaches its launcher and every
// worker), which a signal to compare's own group does not reach: so whatever way this process
// exits, an "exit" hook SIGKILLs every group still running.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readdirSync } from "node:fs";
import { constants } from "node:os";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import type { ConfigRun, Comparison, ResultValue, RunStatus } from "../report/comparison.js";
import { shellWord } from "../report/html-page.js";
import { readRunCurves } from "../report/run-curves.js";
import { tableText } from "../report/summary-table.js";
import { writeReport } from "../report/write-report.js";
import { ProgressBar } from "../train/progress-bar.js";
import { compareUsage, planComparison, type CompareConfig, type ComparePlan } from "./compare-grid.js";
import { cpuCount } from "./worker-count.js";
import { weftEntry } from "./weft-entry.js";
import { UsageError } from "./options.js";

/** After SIGTERM (at the time limit, or on a signal to compare), how long a configuration has to stop before SIGKILL (the launcher gives its workers 5 s). */
const GRACE_MS = 8000;

/** How much of a child's output is kept in memory (all of it goes to its log file): the result line is the last. */
const KEEP_CHARS = 1 << 20;


/** Lines about the comparison on stderr, and on a terminal a bar of configurations done, redrawn below them. */
class CompareProgress {
  private readonly tty = process.stderr.isTTY === true;
  private readonly bar: ProgressBar | undefined;
  private readonly timer: NodeJS.Timeout | undefined;
  private done = 0;
  private readonly running = new Map<number, { label: string; started: number }>();

  constructor(private readonly total: number) {
    this.bar = this.tty ? new ProgressBar("compare", total) : undefined;
    this.timer = this.tty ? setInterval(() => this.draw(), 500) : undefined;
    this.timer?.unref();
  }

  line(message: string): void {
    process.stderr.write(`${this.tty ? "\r\x1b[K" : ""}${message}\n`);
    this.draw();
  }

  start(c: CompareConfig): void {
    this.running.set(c.index, { label: c.label, started: performance.now() });
    this.line(`[${c.index}/${this.total}] ${c.label}: started: weft train ${c.argv.map((a) => shellWord(a === c.runDir ? fromHere(a) : a)).join(" ")}`);
  }

  finish(c: CompareConfig, message: string): void {
    this.running.delete(c.index);
    this.done++;
    this.line(`[${c.index}/${this.total}] ${c.label}: ${message}`);
  }

  private draw(): void {
    if (!this.bar) return;
    const now = performance.now();
    const running = [...this.running.values()].map((r) => `${r.label.slice(0, 40)} (${Math.round((now - r.started) / 1000)} s)`).join(", ");
    this.bar.update(this.done, running ? { running } : {});
  }

  end(): void {
    clearInterval(this.timer);
    this.bar?.finish();
  }
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  spawnError?: string;
}

/** `path` as the report stores it: relative to the report folder `out` (with / between names), or absolute when it lies outside. */
function inReport(out: string, path: string): string {
  const rel = relative(out, resolve(path));
  if (rel === "") return ".";
  return rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel) ? resolve(path) : rel.split(sep).join("/");
}

/** `path` as the terminal shows it: relative to the current directory when inside it (as a user typed --out), else absolute. */
function fromHere(path: string): string {
  const rel = inReport(process.cwd(), path);
  return rel === "." ? path : rel;
}

/** How the report says a configuration was stopped by a signal to compare. */
const stoppedBy = (signal: NodeJS.Signals): string => (signal === "SIGINT" ? "Ctrl-C (SIGINT)" : signal);

/** Signals the configuration's whole process group: `weft train`, its launcher and workers. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

const lastLine = (text: string): string | undefined => text.split("\n").map((l) => l.trim()).filter((l) => l !== "").at(-1);

function parseResult(stdout: string): Record<string, ResultValue> | undefined {
  const line = lastLine(stdout);
  if (line === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, ResultValue>) : undefined;
  } catch {
    return undefined;
  }
}

function formatValue(metric: string, value: ResultValue | undefined): string {
  if (typeof value !== "number") return "no value";
  return `${metric} ${metric.endsWith("accuracy") ? `${(100 * value).toFixed(2)}%` : value.toPrecision(4)}`;
}

class Comparer {
  private readonly running = new Set<ChildProcess>();
  /** The signal that stopped the comparison, once one has. */
  private signal: NodeJS.Signals | undefined;
  private killTimer: NodeJS.Timeout | undefined;

  constructor(private readonly plan: ComparePlan, private readonly progress: CompareProgress) {}

  private get interrupted(): boolean {
    return this.signal !== undefined;
  }

  /**
   * A signal to compare: start nothing more, SIGTERM what runs and SIGKILL it GRACE_MS later if
   * it has not stopped; a second signal SIGKILLs at once.
   */
  interrupt(signal: NodeJS.Signals): void {
    if (this.signal !== undefined) {
      if (this.running.size > 0) this.progress.line(`weft compare: ${signal} again: killing the running configurations now`);
      this.killAll();
      return;
    }
    this.signal = signal;
    if (this.running.size > 0) {
      this.progress.line(`weft compare: ${signal}: stopping the running configurations (killed in ${GRACE_MS / 1000} s, or at once on a second signal); the report of what finished follows`);
    }
    for (const child of this.running) signalGroup(child, "SIGTERM");
    this.killTimer = setTimeout(() => this.killAll(), GRACE_MS);
    this.killTimer.unref();
  }

  /** SIGKILLs every configuration's process group still running. Synchronous: process.on("exit") calls it. */
  killAll(): void {
    for (const child of this.running) signalGroup(child, "SIGKILL");
  }

  /** After the last configuration: no timer left behind. */
  dispose(): void {
    clearTimeout(this.killTimer);
  }

  /** The signal that stopped the comparison, if one did. */
  get stoppedBy(): NodeJS.Signals | undefined {
    return this.signal;
  }

  async runAll(): Promise<ConfigRun[]> {
    const { configs, parallel } = this.plan;
    const runs: (ConfigRun | undefined)[] = new Array(configs.length);
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < configs.length && !this.interrupted) {
        const c = configs[next++]!;
        runs[c.index - 1] = await this.runOne(c);
      }
    };
    await Promise.all(Array.from({ length: parallel }, lane));
    return configs.map((c, i) => runs[i] ?? this.notRun(c));
  }

  private notRun(c: CompareConfig): ConfigRun {
    return { id: c.id, label: c.label, settings: c.settings, argv: c.reportArgv, status: this.interrupted ? "interrupted" : "not run", curves: { metric: [], loss: [], step_ms: [] } };
  }

  private async runOne(c: CompareConfig): Promise<ConfigRun> {
    const { plan, progress } = this;
    const logFile = join(plan.out, "logs", `${c.id}.log`);
    const log = createWriteStream(logFile);
    const started = performance.now();
    progress.start(c);
    // Its own process group (detached), so the time limit stops the launcher and every worker with one signal.
    const child = spawn(process.execPath, [...weftEntry(), "train", ...c.argv], { detached: true, stdio: ["ignore", "pipe", "pipe"] });
    this.running.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      log.write(chunk);
      stdout = (stdout + chunk.toString("utf8")).slice(-KEEP_CHARS);
    });
    child.stderr!.on("data", (chunk: Buffer) => {
      log.write(chunk);
      stderr = (stderr + chunk.toString("utf8")).slice(-KEEP_CHARS);
    });
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const limitTimer = setTimeout(() => {
      timedOut = true;
      signalGroup(child, "SIGTERM");
      killTimer = setTimeout(() => signalGroup(child, "SIGKILL"), GRACE_MS);
    }, plan.timeLimitS * 1000);
    const exit = await new Promise<Exit>((resolve) => {
      child.once("error", (err) => resolve({ code: null, signal: null, spawnError: err.message }));
      child.once("close", (code, signal) => resolve({ code, signal }));
    });
    clearTimeout(limitTimer);
    clearTimeout(killTimer);
    // Whatever the launcher left behind after a stop (it should leave nothing) goes with the group.
    if (timedOut || this.interrupted) signalGroup(child, "SIGKILL");
    this.running.delete(child);
    await new Promise<void>((resolve) => log.end(resolve));
    const elapsed = (performance.now() - started) / 1000;

    const result = exit.code === 0 ? parseResult(stdout) : undefined;
    const status: RunStatus = timedOut ? "timed out" : this.interrupted && exit.code !== 0 ? "interrupted" : result ? "ok" : "failed";
    const error =
      status === "ok" ? undefined
      : status === "timed out" ? `ran past --time-limit ${plan.timeLimitS} s`
      : status === "interrupted" ? `stopped by ${stoppedBy(this.signal!)}`
      : exit.spawnError ?? (exit.code === 0 ? "weft train printed no JSON result line" : lastLine(stderr) ?? (exit.signal ? `killed by ${exit.signal}` : `exit status ${exit.code}`));
    const runDir = typeof result?.run_dir === "string" ? resolve(result.run_dir) : existsSync(c.runDir) ? c.runDir : undefined;
    const curves = runDir === undefined ? { metric: [], loss: [], step_ms: [] } : readRunCurves(runDir, plan.recipe.metric.name);
    // The result's own evaluation ends the metric curve when no eval line holds it (a weft train without --eval-every).
    const steps = result?.steps, value = result?.value, wall = result?.wall_s;
    if (typeof steps === "number" && typeof value === "number" && typeof wall === "number" && (curves.metric.at(-1)?.step ?? -1) < steps) {
      const bytes = result?.bytes_sent_per_worker;
      curves.metric.push({ step: steps, wall_s: wall, ...(typeof bytes === "number" ? { bytes_sent: bytes } : {}), value });
    }
    // Every path as the report stores it, the result line's run_dir included: relative to the report folder.
    const shownResult = result && typeof result.run_dir === "string" ? { ...result, run_dir: inReport(plan.out, result.run_dir) } : result;
    const run: ConfigRun = {
      id: c.id, label: c.label, settings: c.settings, argv: c.reportArgv, status,
      ...(exit.code === null ? {} : { exit_code: exit.code }), ...(error === undefined ? {} : { error }),
      elapsed_s: Math.round(elapsed * 100) / 100, ...(shownResult ? { result: shownResult } : {}), ...(runDir === undefined ? {} : { run_dir: inReport(plan.out, runDir) }),
      log_file: inReport(plan.out, logFile), curves,
    };
    const how = status === "ok" ? `ok in ${elapsed.toFixed(1)} s (${formatValue(plan.recipe.metric.name, value)}, training ${typeof wall === "number" ? wall.toFixed(1) : "?"} s)` : `${status} after ${elapsed.toFixed(1)} s: ${error}`;
    progress.finish(c, how);
    return run;
  }
}

export async function runCompareCommand(argv: string[]): Promise<number> {
  const plan = planComparison(argv);
  if (plan === "help") {
    console.log(compareUsage());
    return 0;
  }
  if (existsSync(plan.out) && readdirSync(plan.out).length > 0) {
    throw new UsageError(`weft compare: --out ${plan.out} is not empty; give a new or empty folder, so that no earlier run's metrics mix into this report`);
  }
  mkdirSync(join(plan.out, "logs"), { recursive: true });

  const n = plan.configs.length;
  const progress = new CompareProgress(n);
  progress.line(`weft compare: ${n} configuration${n === 1 ? "" : "s"} of ${plan.recipe.name}, ${plan.parallel} at a time, each for up to ${plan.timeLimitS} s; report in ${fromHere(plan.out)}`);
  const cpus = cpuCount();
  if (plan.parallel > 1 && plan.processesAtOnce > cpus) {
    progress.line(`weft compare: note: up to ${plan.processesAtOnce} processes at once on ${cpus} CPUs: configurations running together slow each other, so their times compare only with each other's`);
  }
  const comparer = new Comparer(plan, progress);
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  const onSignal = (signal: NodeJS.Signals): void => comparer.interrupt(signal);
  // The configurations' groups are not compare's: however this process ends, they end with it.
  const onExit = (): void => comparer.killAll();
  for (const signal of signals) process.on(signal, onSignal);
  process.on("exit", onExit);
  // The handlers stay until the report is written: a signal while it is written leaves it whole.
  try {
    return await compareAndReport(argv, plan, comparer, progress);
  } finally {
    for (const signal of signals) process.off(signal, onSignal);
    process.off("exit", onExit);
  }
}

async function compareAndReport(argv: readonly string[], plan: ComparePlan, comparer: Comparer, progress: CompareProgress): Promise<number> {
  const n = plan.configs.length;
  const started = new Date();
  const configs = await comparer.runAll().finally(() => {
    // Normally nothing runs by now; after an error in a lane, the other lanes' configurations go too.
    comparer.killAll();
    comparer.dispose();
    progress.end();
  });

  const comparison: Comparison = {
    recipe: plan.recipe.name, metric: plan.recipe.metric,
    ...(plan.target === undefined ? {} : { target: { value: plan.target, source: "--target" } }),
    command: `weft compare ${argv.map(shellWord).join(" ")}`, keys: plan.keys, started: started.toISOString(), configs,
  };
  const report = await writeReport(plan.out, comparison);
  console.log(tableText(report.table));
  console.log(`report: ${fromHere(report.html)} (and results.csv, results.json beside it)`);
  const ok = configs.filter((r) => r.status === "ok").length;
  if (plan.json) {
    console.log(JSON.stringify({
      recipe: plan.recipe.name, out: plan.out, report: report.html, finished: ok, configurations: n,
      ...(report.comparison.target ? { target: report.comparison.target.value } : {}),
      results: configs.map((r, i) => ({
        id: r.id, label: r.label, status: r.status, ...Object.fromEntries(report.table.columns.slice(2).map((col, j) => [col.key, report.table.rows[i]![j + 2] ?? null])),
        // On stdout, for the caller on this machine: the absolute path.
        ...(r.run_dir ? { run_dir: resolve(plan.out, r.run_dir) } : {}),
      })),
    }));
  }
  // 128 + the signal's number, as a shell reports a command a signal ended: 130 after Ctrl-C, 129 after SIGHUP, 143 after SIGTERM.
  const signal = comparer.stoppedBy;
  if (signal !== undefined) return 128 + (constants.signals[signal] ?? 2);
  return ok === n ? 0 : 1;
}
