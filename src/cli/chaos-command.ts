// `weft chaos <recipe> --workers N --faults kill,stop --every S --count F`: fault injection anyone
// can run, the way TorchElastic and TorchFT are tested. It trains the recipe twice through `weft
// train`, as a user would: once without faults (the baseline, elastic too, so it also shows that
// a fault-free run excludes no one), then under a seeded schedule of faults on random live
// workers: `kill` (SIGKILL; the launcher starts a replacement, which joins), `stop` (SIGSTOP, then
// SIGCONT after --hold seconds: the worker is left out by heartbeat silence, learns so when it
// wakes, and joins again). It reports recoveries, time to detect, to re-form and to the first
// step of the new generation, steps redone, the final metric against the baseline's, whether the
// members' state digests agreed after every re-formation, and hangs (a run past --time-limit).
//
// A cut network needs the workers in separate network namespaces, which one `weft train` does
// not make; test/distributed/elastic-netns.test.ts cuts a link between namespaces instead.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { median } from "../bench/median.js";
import { findRecipe, RECIPES } from "../recipes/index.js";
import type { OptionTable } from "../train/option-spec.js";
import { Rng } from "../util/rng.js";
import { analyseChaos, readMetricsLines, type ChaosAnalysis, type FaultKind, type InjectedFault } from "./chaos-analysis.js";
import { jobProcesses, type JobProcess } from "./job-processes.js";
import { describeOptions, parseCommandLine, UsageError } from "./options.js";
import { checkTrainValues, trainOptionTable } from "./train-command.js";
import { weftEntry } from "./weft-entry.js";

const CHAOS_OPTIONS = {
  workers: { type: "int", min: 2, default: 3, help: "workers the job starts with (and keeps: killed ones are replaced)" },
  faults: { type: "string", default: "kill,stop", placeholder: "KINDS", help: "faults to draw from: kill, stop (comma-separated)" },
  every: { type: "number", positive: true, default: 4, help: "mean seconds between faults (each drawn within ±40%)" },
  count: { type: "int", min: 1, default: 10, help: "faults to inject (fewer if training ends first)" },
  hold: { type: "number", positive: true, default: 2.5, help: "seconds a stopped worker stays stopped before SIGCONT" },
  "chaos-seed": { type: "int", min: 0, default: 1, help: "seed of the fault schedule (which fault, which worker, when)" },
  out: { type: "string", placeholder: "DIR", default: "chaos", help: "folder for the report and both runs" },
  "time-limit": { type: "number", positive: true, default: 1200, help: "seconds a run may take before it counts as a hang and is stopped" },
  "no-baseline": { type: "flag", help: "skip the fault-free run" },
  json: { type: "flag", help: "print the report as one JSON line, last on stdout" },
  help: { type: "flag", short: "h", help: "show this help" },
} as const satisfies OptionTable;

const USAGE = `usage: weft chaos <recipe> [chaos options] [weft train options]

Trains <recipe> without faults, then again while killing and freezing random workers on a
seeded schedule, and reports how the job recovered (docs/elastic.md, "Fault injection").

chaos options:
${describeOptions(CHAOS_OPTIONS)}

Any other option is weft train's (--epochs, --max-steps, --batch, --seed, --strategy ...).`;

const KINDS: readonly FaultKind[] = ["kill", "stop"];

interface RunOutcome {
  code: number | null;
  hung: boolean;
  result?: Record<string, unknown>;
  wall_s: number;
}

/** Runs `weft train <argv>` as a child in its own process group; `during` injects faults while it runs. */
async function trainChild(argv: string[], logPath: string, timeLimitS: number, during?: (runDir: string, ended: () => boolean) => Promise<void>, runDir?: string): Promise<RunOutcome> {
  const started = performance.now();
  const child = spawn(process.execPath, [...weftEntry(), "train", ...argv], { detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let log = "";
  child.stdout.on("data", (d: Buffer) => ((stdout += d), (log += d)));
  child.stderr.on("data", (d: Buffer) => (log += d));
  let done = false;
  let hung = false;
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => ((done = true), r(code))));
  const killGroup = (): void => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // gone
    }
  };
  process.once("exit", killGroup);
  const limit = setTimeout(() => ((hung = true), killGroup()), timeLimitS * 1000);
  try {
    if (during && runDir) await during(runDir, () => done);
    const code = await exited;
    writeFileSync(logPath, log);
    const last = stdout.trim().split("\n").pop() ?? "";
    return { code, hung, wall_s: Math.round((performance.now() - started) / 10) / 100, ...(last.startsWith("{") ? { result: JSON.parse(last) as Record<string, unknown> } : {}) };
  } finally {
    clearTimeout(limit);
    process.off("exit", killGroup);
  }
}

/** Injects `count` faults on random live workers of the job in `runDir`, on a seeded schedule; returns what it did. */
async function injectFaults(runDir: string, ended: () => boolean, o: { kinds: FaultKind[]; every: number; count: number; hold: number; seed: number }, say: (m: string) => void): Promise<InjectedFault[]> {
  const rng = new Rng(o.seed);
  const injected: InjectedFault[] = [];
  // The first fault comes once training has started (a worker has written a step).
  while (!ended() && !readMetricsLines(runDir).some((l) => typeof l.loss === "number")) await sleep(50);
  const stopped: Promise<void>[] = [];
  for (let i = 0; i < o.count && !ended(); i++) {
    await sleep(o.every * 1000 * (0.6 + 0.8 * rng.next()));
    const kind = o.kinds[rng.int(o.kinds.length)]!;
    // Note [chaos hits training workers]: a victim is a worker training now (it wrote a step in
    // the last seconds), never a replacement still starting, whose loss nobody would notice; and
    // one training worker is always left, holding the state (with none, the job could only
    // stop, which tests a fault schedule, not a recovery). Until two train, the fault waits.
    let victim: JobProcess | undefined;
    while (!ended()) {
      const lines = readMetricsLines(runDir);
      const now = Date.now();
      const recent = new Set(lines.filter((l) => typeof l.loss === "number" && l.time > now - 3000).map((l) => l.rank));
      const training = jobProcesses(runDir).filter((p) => !p.stopped && recent.has(p.slot));
      if (training.length >= 2) {
        victim = training[rng.int(training.length)]!;
        break;
      }
      await sleep(100);
    }
    if (victim === undefined) break;
    const target = victim;
    const at = Date.now();
    try {
      process.kill(victim.pid, kind === "kill" ? "SIGKILL" : "SIGSTOP");
    } catch {
      continue; // it exited just now
    }
    injected.push({ kind, slot: victim.slot, pid: victim.pid, at });
    say(`fault ${injected.length}: ${kind} worker ${victim.slot} (pid ${victim.pid})`);
    if (kind === "stop") {
      stopped.push(sleep(o.hold * 1000).then(() => {
        try {
          process.kill(target.pid, "SIGCONT");
        } catch {
          // killed meanwhile (the launcher stops leftovers at the end)
        }
      }));
    }
  }
  await Promise.all(stopped);
  return injected;
}

export interface ChaosReport extends ChaosAnalysis {
  recipe: string;
  workers: number;
  faults_injected: number;
  hangs: number;
  metric: string;
  baseline_value?: number;
  chaos_value?: number;
  final_workers?: number;
  detect_ms_median?: number;
  reform_ms_median?: number;
  first_step_ms_median?: number;
  baseline_recoveries?: number;
  baseline_wall_s?: number;
  chaos_wall_s: number;
}

export async function runChaosCommand(argv: string[]): Promise<number> {
  const name = argv[0] !== undefined && !argv[0].startsWith("-") ? argv[0] : undefined;
  const recipe = name === undefined ? undefined : findRecipe(name);
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  if (!recipe) throw new UsageError(`weft chaos: ${name === undefined ? "which recipe?" : `unknown recipe "${name}";`} the recipes are ${RECIPES.map((r) => r.name).join(", ")}`);
  // Chaos's own flags are taken out; the rest is weft train's, passed on as given.
  const own: string[] = [];
  const trainArgs: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const flag = /^--([^=]+)/.exec(argv[i]!)?.[1];
    const spec = flag === undefined ? undefined : (CHAOS_OPTIONS as OptionTable)[flag];
    const into = spec ? own : trainArgs;
    into.push(argv[i]!);
    if (spec && spec.type !== "flag" && !argv[i]!.includes("=") && i + 1 < argv.length) own.push(argv[++i]!);
  }
  for (const flag of ["min", "max", "max-restarts", "run-dir"]) {
    if (trainArgs.some((a) => a === `--${flag}` || a.startsWith(`--${flag}=`))) throw new UsageError(`weft chaos: --${flag} is set by weft chaos itself`);
  }
  const { values } = parseCommandLine(own, CHAOS_OPTIONS, { command: `weft chaos ${recipe.name}` });
  const v = values as Record<string, string | number | boolean | undefined>;
  const kinds = String(v.faults).split(",").map((k) => k.trim()).filter((k) => k.length > 0);
  const unknown = kinds.filter((k) => !KINDS.includes(k as FaultKind));
  if (kinds.length === 0 || unknown.length > 0) {
    throw new UsageError(`weft chaos: --faults takes ${KINDS.join(", ")}${unknown.includes("cut") ? " (a cut network needs workers in separate network namespaces: see docs/elastic.md)" : ""}; got "${v.faults}"`);
  }
  const workers = v.workers as number;
  const elastic = ["--workers", String(workers), "--min", "1", "--max", String(workers), "--json"];
  // The train flags are checked as weft train checks them, with what chaos adds, before anything runs.
  const trainValues = parseCommandLine([...trainArgs, ...elastic, "--max-restarts", String(v.count)], trainOptionTable(recipe), { command: `weft chaos ${recipe.name}` }).values;
  checkTrainValues(trainValues);
  const out = resolve(v.out as string);
  mkdirSync(out, { recursive: true });
  const say = (m: string): void => void process.stderr.write(`weft chaos: ${m}\n`);
  const timeLimit = v["time-limit"] as number;

  let baseline: RunOutcome | undefined;
  if (!v["no-baseline"]) {
    say(`baseline: weft train ${recipe.name} ${[...elastic, ...trainArgs].join(" ")}`);
    baseline = await trainChild([recipe.name, ...elastic, ...trainArgs, "--run-dir", join(out, "baseline")], join(out, "baseline.log"), timeLimit);
    say(`baseline: ${baseline.hung ? "hung" : `exit ${baseline.code}`}, ${recipe.metric.name} ${baseline.result?.value ?? "none"}, ${baseline.result?.recoveries ?? "?"} re-formation(s), ${baseline.wall_s} s`);
  }
  const chaosDir = join(out, "chaos");
  const chaosArgs = [recipe.name, ...elastic, "--max-restarts", String(v.count), ...trainArgs, "--run-dir", chaosDir];
  say(`chaos: weft train ${chaosArgs.join(" ")}`);
  let faults: InjectedFault[] = [];
  const chaos = await trainChild(chaosArgs, join(out, "chaos.log"), timeLimit, async (runDir, ended) => {
    faults = await injectFaults(runDir, ended, { kinds: kinds as FaultKind[], every: v.every as number, count: v.count as number, hold: v.hold as number, seed: v["chaos-seed"] as number }, say);
  }, chaosDir);
  const analysis = analyseChaos(readMetricsLines(chaosDir), faults);
  const ms = (key: "detect_ms" | "reform_ms" | "first_step_ms"): number | undefined => {
    const values = analysis.faults.map((f) => f[key]).filter((x): x is number => x !== undefined);
    return values.length ? Math.round(median(values)) : undefined;
  };
  const report: ChaosReport = {
    recipe: recipe.name, workers, faults_injected: faults.length, hangs: (baseline?.hung ? 1 : 0) + (chaos.hung ? 1 : 0), metric: recipe.metric.name,
    ...(typeof baseline?.result?.value === "number" ? { baseline_value: baseline.result.value } : {}),
    ...(typeof chaos.result?.value === "number" ? { chaos_value: chaos.result.value } : {}),
    ...(typeof chaos.result?.final_workers === "number" ? { final_workers: chaos.result.final_workers } : {}),
    ...(typeof baseline?.result?.recoveries === "number" ? { baseline_recoveries: baseline.result.recoveries } : {}),
    ...(baseline ? { baseline_wall_s: baseline.wall_s } : {}),
    chaos_wall_s: chaos.wall_s,
    ...withDefined({ detect_ms_median: ms("detect_ms"), reform_ms_median: ms("reform_ms"), first_step_ms_median: ms("first_step_ms") }),
    ...analysis,
  };
  writeFileSync(join(out, "chaos-report.json"), `${JSON.stringify(report, null, 2)}\n`);
  say(summary(report));
  if (v.json) console.log(JSON.stringify(report));
  const ok = report.hangs === 0 && report.digest_disagreements === 0 && chaos.code === 0 && (baseline === undefined || baseline.code === 0);
  return ok ? 0 : 1;
}

function withDefined<T extends Record<string, number | undefined>>(o: T): Partial<Record<keyof T, number>> {
  return Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as Partial<Record<keyof T, number>>;
}

function summary(r: ChaosReport): string {
  const points = r.baseline_value !== undefined && r.chaos_value !== undefined ? ` (${((r.chaos_value - r.baseline_value) * 100).toFixed(2)} points)` : "";
  return `${r.faults_injected} fault(s), ${r.reformations} re-formation(s), ${r.hangs} hang(s), ${r.digest_disagreements} digest disagreement(s), ${r.steps_redone} step(s) redone; ` +
    `median detect ${r.detect_ms_median ?? "-"} ms, re-form ${r.reform_ms_median ?? "-"} ms, fault to next step ${r.first_step_ms_median ?? "-"} ms; ` +
    `${r.metric} ${r.chaos_value ?? "none"} against ${r.baseline_value ?? "no baseline"}${points}`;
}
