// `weft train <recipe> [options]`: finds the recipe in the registry, parses the shared budget,
// the recipe's own options and the strategy's, and runs it: in this process for `single`, or on
// N workers through the launcher (train-worker.ts) for a distributed strategy. The result is one
// summary line, or with --json one JSON line, last on stdout.
import { existsSync, readFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { backend } from "../backend/index.js";
import { launchJob } from "../distributed/launch/launcher.js";
import { generateSecret } from "../distributed/wire/secret.js";
import { ENV } from "../distributed/rendezvous/worker-env.js";
import { findRecipe, RECIPES } from "../recipes/index.js";
import { checkpointDirProblem, checkpointFileProblem, listStepCheckpoints } from "../train/checkpoint-folder.js";
import { DEFAULT_KEEP } from "../train/fit.js";
import type { OptionTable } from "../train/option-spec.js";
import type { Recipe, RecipeSettings } from "../train/recipe.js";
import { runRecipe, type RecipeResult } from "../train/run-recipe.js";
import { findStrategy, STRATEGIES, type RankReport, type StrategyEntry, type StrategyOptions } from "../train/strategies.js";
import { MetricsWriter } from "../distributed/metrics/metrics-writer.js";
import { describeOptions, parseCommandLine, UsageError } from "./options.js";
import { bareDashboardFlag, DASHBOARD_OPTIONS, dashboardFlags, openDashboard, type DashboardFlags } from "./dashboard-flag.js";
import { checkWorkerCount } from "./worker-count.js";
import { largestMemory, RESULT_FILE, type TrainJob, reportFile } from "./train-job.js";
import { checkPlannedMemory, MAX_MEMORY_FORMS, maxMemoryBytes, memoryLimitOf } from "./train-memory.js";
import { MemoryLimitError } from "../train/memory.js";
import { PRECISION_OPTION, resolvePrecision, type PrecisionFlag } from "./precision-flag.js";

/** Flags every recipe takes; a recipe's defaults fill in the budget's. */
function sharedOptions(recipe: Recipe | undefined) {
  const d = recipe?.defaults;
  return {
    epochs: { type: "int", min: 1, ...(d ? { default: d.epochs } : {}), help: "passes over the training data" },
    "max-steps": { type: "int", min: 1, help: "stop after this many steps in all (default: every epoch's)" },
    batch: { type: "int", min: 1, max: 1 << 20, ...(d ? { default: d.batch } : {}), help: "batch size per worker" },
    lr: { type: "number", positive: true, ...(d ? { default: d.lr } : {}), help: "peak learning rate" },
    seed: { type: "int", min: 0, max: 2 ** 31 - 1, ...(d ? { default: d.seed } : {}), help: "seed of initialisation, shuffling and augmentation" },
    workers: { type: "int", min: 1, default: 1, help: "worker processes on this machine" },
    strategy: { type: "choice", choices: STRATEGIES.map((s) => s.name), help: "how the workers train together (default: single for 1 worker, ddp for more)" },
    oversubscribe: { type: "flag", help: "allow more workers than 2 per CPU" },
    min: { type: "int", min: 1, help: "elastic: go on while at least this many workers are left (a lost worker no longer ends the job)" },
    max: { type: "int", min: 1, help: "elastic: the most workers the job takes in (replacements and joiners beyond it wait)" },
    "max-restarts": { type: "int", min: 0, help: "elastic: replacements the launcher may start for workers that died (default 0)" },
    "checkpoint-dir": { type: "string", placeholder: "DIR", help: "write checkpoints into this folder, step-<n>.safetensors, in the background (at the end, and every --checkpoint-every steps or --checkpoint-seconds); --resume continues from it" },
    checkpoint: { type: "string", placeholder: "PATH", help: "write one checkpoint file instead, overwritten each time (with --strategy ps its servers' shard files sit beside it)" },
    "checkpoint-every": { type: "int", min: 1, help: "steps between checkpoints" },
    "checkpoint-seconds": { type: "number", positive: true, help: "seconds between checkpoints (with or instead of --checkpoint-every)" },
    keep: { type: "int", min: 1, help: `checkpoints --checkpoint-dir keeps; older ones are deleted once a newer one is durable (default ${DEFAULT_KEEP})` },
    resume: { type: "flag", help: "continue from the newest checkpoint in --checkpoint-dir that verifies (or from the --checkpoint file)" },
    "eval-every": { type: "int", min: 1, help: "also evaluate every N epochs, into the run folder's metrics (for curves)" },
    "run-dir": { type: "string", placeholder: "DIR", help: "where the per-step metrics and logs go (default runs/<job id> for several workers, none for one)" },
    "max-memory": { type: "string", placeholder: "BYTES", help: `the most each worker may hold in parameters, gradients, optimizer state and activations; a run that would not fit is refused at once, naming the strategies that would (${MAX_MEMORY_FORMS})` },
    "slow-rank": { type: "int", min: 0, help: "make this worker slower, to study stragglers (with --slowdown)" },
    slowdown: { type: "number", min: 1, help: "how many times slower --slow-rank runs (>= 1; it sleeps in proportion to its compute)" },
    ...PRECISION_OPTION,
    ...DASHBOARD_OPTIONS,
    json: { type: "flag", help: "print the result as one JSON line, last on stdout" },
    list: { type: "flag", help: "list the recipes and strategies" },
    help: { type: "flag", short: "h", help: "show this help" },
  } as const satisfies OptionTable;
}

function listing(): string {
  const width = Math.max(...RECIPES.map((r) => r.name.length), ...STRATEGIES.map((s) => s.name.length)) + 2;
  return [
    "recipes:", ...RECIPES.map((r) => `  ${r.name.padEnd(width)}${r.summary}`),
    "strategies (--strategy):", ...STRATEGIES.map((s) => `  ${s.name.padEnd(width)}${s.summary}`),
  ].join("\n");
}

function usage(recipe: Recipe | undefined, table: OptionTable): string {
  return `usage: weft train ${recipe?.name ?? "<recipe>"} [options]\n\n${listing()}\n\noptions:\n${describeOptions(table)}`;
}

/** The options of `weft train <recipe>`; a recipe or strategy option that shadows another is a bug in its declaration. */
function optionTable(recipe: Recipe | undefined): OptionTable {
  const parts: [string, OptionTable][] = [["weft train", sharedOptions(recipe)], [`recipe ${recipe?.name}`, recipe?.options ?? {}], ...STRATEGIES.map((s) => [`strategy ${s.name}`, s.options] as [string, OptionTable])];
  const owner = new Map<string, string>();
  for (const [who, options] of parts) {
    for (const flag of Object.keys(options)) {
      const first = owner.get(flag);
      // Strategies may share a flag with each other (only one runs); nothing may shadow the shared ones or a recipe's.
      if (first !== undefined && !(first.startsWith("strategy") && who.startsWith("strategy"))) {
        throw new Error(`--${flag} is declared by both ${first} and ${who}: rename one of them`);
      }
      owner.set(flag, first ?? who);
    }
  }
  return Object.assign({}, ...parts.map(([, options]) => options)) as OptionTable;
}

/** The flags `weft train <recipe>` accepts: `weft compare` checks its grid against them. */
export function trainOptionTable(recipe: Recipe): OptionTable {
  return optionTable(recipe);
}

/** What checkTrainValues makes of a `weft train` command line's values. */
export interface CheckedTrainValues {
  strategyName: string;
  strategy: StrategyEntry;
  /** Training workers (--workers). */
  workers: number;
  /** Processes the job starts: the workers and, for a strategy with servers, its servers. */
  processes: number;
  /** The chosen strategy's own options, by flag name. */
  strategyOptions: StrategyOptions;
  /** --max-memory in bytes, when given. */
  maxMemoryBytes?: number;
}

/**
 * The checks `weft train` makes of its parsed values before it runs anything: the strategy fits
 * the worker count, no other strategy's flag is given, the flags that go together are together,
 * the checkpoint folder is writable, the strategy's own check, and the processes the job starts
 * fit the CPUs. The one door for both `weft train` and `weft compare`, which runs it for every
 * configuration before the first one starts. Throws a one-line UsageError.
 *
 * @param values what parseCommandLine made of the arguments after the recipe's name, against
 *   trainOptionTable (the recipe's own options are the parser's to check)
 */
export function checkTrainValues(values: Readonly<Record<string, unknown>>): CheckedTrainValues {
  const v = values as Readonly<Record<string, string | number | boolean | undefined>>;
  const workers = v.workers as number;
  const strategyName = (v.strategy as string | undefined) ?? (workers > 1 ? "ddp" : "single");
  const strategy = findStrategy(strategyName)!;
  if (!strategy.distributed && workers > 1) {
    throw new UsageError(`weft train: --strategy ${strategyName} runs on one worker, not ${workers}; use --strategy ${STRATEGIES.filter((s) => s.distributed).map((s) => s.name).join(" or ")}`);
  }
  for (const other of STRATEGIES) {
    if (other === strategy) continue;
    for (const flag of Object.keys(other.options)) {
      if (v[flag] !== undefined && !(flag in strategy.options)) {
        throw new UsageError(`weft train: --${flag} is an option of --strategy ${other.name}, not of ${strategyName}`);
      }
    }
  }
  checkCheckpointFlags(v, strategyName);
  // Between steps these strategies hold parts of the model on each rank; it is whole again only
  // after the last step (their finish()), where the result's evaluation runs.
  const cut = strategyName === "pipeline" || strategyName === "tensor" || (strategyName === "zero" && v.stage === 3);
  if (cut && v["eval-every"] !== undefined) {
    throw new UsageError(`weft train: --eval-every evaluates the whole model between steps, and --strategy ${strategyName}${strategyName === "zero" ? " --stage 3" : ""} holds it in parts until the end: drop --eval-every (the result is still evaluated)`);
  }
  checkElasticFlags(v, strategyName, workers);
  if ((v["slow-rank"] === undefined) !== (v.slowdown === undefined)) throw new UsageError("weft train: --slow-rank R and --slowdown F go together (worker R runs F times slower)");
  if (v["slow-rank"] !== undefined && (v["slow-rank"] as number) >= workers) {
    throw new UsageError(`weft train: --slow-rank ${v["slow-rank"]} is not a worker; the workers are 0..${workers - 1}`);
  }
  const strategyOptions: StrategyOptions = Object.fromEntries(Object.keys(strategy.options).map((k) => [k, v[k]]));
  const problem = strategy.check?.(strategyOptions, workers);
  if (problem !== undefined) throw new UsageError(`weft train: ${problem}`);
  const processes = strategy.processes?.(strategyOptions, workers) ?? workers;
  checkWorkerCount(processes, v.oversubscribe === true, processes === workers ? "--workers" : `--workers ${workers} with --strategy ${strategyName} (${processes} processes)`);
  const maxMemory = v["max-memory"] === undefined ? undefined : maxMemoryBytes(String(v["max-memory"]));

  return { strategyName, strategy, workers, processes, strategyOptions, ...(maxMemory === undefined ? {} : { maxMemoryBytes: maxMemory }) };
}

/** Strategies whose replicas can be re-formed in place: the parameter server's servers hold state no worker has. */
const ELASTIC_STRATEGIES = ["ddp", "local-sgd", "gossip"];

/** --min/--max/--max-restarts: an elastic job (docs/elastic.md). */
function checkElasticFlags(v: Readonly<Record<string, string | number | boolean | undefined>>, strategyName: string, workers: number): void {
  const { min, max } = v as { min?: number; max?: number };
  if (min === undefined && max === undefined) {
    if (v["max-restarts"] !== undefined) throw new UsageError("weft train: --max-restarts replaces workers of an elastic job: add --min A (and --max B)");
    return;
  }
  if (!ELASTIC_STRATEGIES.includes(strategyName)) {
    throw new UsageError(`weft train: --min/--max (elastic) work with --strategy ${ELASTIC_STRATEGIES.join(", ")}, not ${strategyName}`);
  }
  const lo = min ?? 1;
  const hi = max ?? workers;
  if (!(lo <= workers && workers <= hi)) throw new UsageError(`weft train: --workers ${workers} must lie within --min ${lo} and --max ${hi}`);
  if (workers < 2) throw new UsageError("weft train: an elastic job needs --workers 2 or more");
  if (v["slow-rank"] !== undefined) throw new UsageError("weft train: --slow-rank names a worker by rank, which an elastic job reassigns: leave it out with --min/--max");
}

/** The job's elastic settings from the (checked) flags, if any. */
function elasticPlan(v: Readonly<Record<string, string | number | boolean | undefined>>, workers: number): Pick<TrainJob, "elastic"> {
  if (v.min === undefined && v.max === undefined) return {};
  return { elastic: { min: (v.min as number | undefined) ?? 1, max: (v.max as number | undefined) ?? workers, maxRestarts: (v["max-restarts"] as number | undefined) ?? 0 } };
}

/** The checkpoint flags' one-line refusals (see docs/checkpoints.md, "A run's checkpoint folder"). */
function checkCheckpointFlags(v: Readonly<Record<string, string | number | boolean | undefined>>, strategyName: string): void {
  const dir = v["checkpoint-dir"] as string | undefined;
  const path = v.checkpoint as string | undefined;
  if (dir !== undefined && path !== undefined) throw new UsageError("weft train: --checkpoint-dir DIR and --checkpoint PATH are two places for the same checkpoints; give one");
  const where = "--checkpoint-dir DIR (or --checkpoint PATH)";
  for (const flag of ["checkpoint-every", "checkpoint-seconds", "resume"]) {
    if (v[flag] !== undefined && v[flag] !== false && dir === undefined && path === undefined) {
      throw new UsageError(`weft train: --${flag} needs ${where}${flag === "resume" ? ", the one the run being resumed wrote to" : ""}`);
    }
  }
  if (v.keep !== undefined && dir === undefined) throw new UsageError("weft train: --keep needs --checkpoint-dir DIR (a --checkpoint file is one file, overwritten)");
  if (strategyName === "ps" && dir !== undefined) {
    throw new UsageError("weft train: --strategy ps writes its servers' shard files beside one checkpoint file: use --checkpoint PATH, not --checkpoint-dir");
  }
  if (strategyName === "ps" && v["checkpoint-seconds"] !== undefined) {
    throw new UsageError("weft train: --strategy ps checkpoints at steps (the servers write at worker 0's steps): use --checkpoint-every, not --checkpoint-seconds");
  }
  if (path !== undefined) {
    const problem = checkpointFileProblem(path);
    if (problem) throw new UsageError(`weft train: --checkpoint ${path}: ${problem}`);
    if (v.resume === true && !existsSync(path)) throw new UsageError(`weft train: --resume: the checkpoint ${path} does not exist; start without --resume`);
  }
  if (dir !== undefined) {
    const problem = checkpointDirProblem(dir);
    if (problem) throw new UsageError(`weft train: --checkpoint-dir ${dir}: ${problem}`);
    const newest = listStepCheckpoints(dir)[0];
    if (v.resume === true && !newest) throw new UsageError(`weft train: --resume: ${dir} holds no checkpoint (step-<n>.safetensors); start without --resume`);
    if (v.resume !== true && newest) {
      throw new UsageError(`weft train: --checkpoint-dir ${dir} already holds a run's checkpoints (up to ${basename(newest.path)}): add --resume to continue it, or choose an empty folder`);
    }
  }
}

export async function runTrainCommand(argv: string[]): Promise<number> {
  const name = argv[0] !== undefined && !argv[0].startsWith("-") ? argv[0] : undefined;
  const recipe = name === undefined ? undefined : findRecipe(name);
  if (name !== undefined && !recipe) {
    throw new UsageError(`weft train: unknown recipe "${name}"; the recipes are ${RECIPES.map((r) => r.name).join(", ")} (weft train --list)`);
  }
  if (name === undefined) {
    const later = argv.find((a) => findRecipe(a) !== undefined);
    if (later !== undefined) throw new UsageError(`weft train: put the recipe first: weft train ${later} ${argv.filter((a) => a !== later).join(" ")}`.trimEnd());
  }
  const table = optionTable(recipe);
  const { values } = parseCommandLine(bareDashboardFlag(name === undefined ? argv : argv.slice(1), table), table, { command: `weft train${name ? ` ${name}` : ""}` });
  const v = values as Record<string, string | number | boolean | undefined>;
  if (v.help || v.list) {
    console.log(v.help ? usage(recipe, table) : listing());
    return 0;
  }
  if (!recipe) throw new UsageError(`weft train: which recipe? the recipes are ${RECIPES.map((r) => r.name).join(", ")} (weft train --list)`);

  const { strategyName, strategy, workers, processes, strategyOptions, maxMemoryBytes: maxBytes } = checkTrainValues(v);
  const dashboard = dashboardFlags(v as { dashboard?: number; "dashboard-host"?: string }, "weft train");
  if (dashboard && !strategy.distributed) throw new UsageError("weft train: --dashboard shows a job of several workers: add --workers 2 or more (one worker trains in this process, with no launcher to serve the page)");

  const settings: RecipeSettings = {
    epochs: v.epochs as number, seed: v.seed as number, batch: v.batch as number, lr: v.lr as number,
    ...(v["max-steps"] === undefined ? {} : { maxSteps: v["max-steps"] as number }),
    options: Object.fromEntries(Object.keys(recipe.options).map((k) => [k, v[k]])),
  };
  const job: TrainJob = {
    recipe: recipe.name, settings, strategy: strategyName, strategyOptions, workers,
    ...(v["eval-every"] === undefined ? {} : { evaluateEvery: v["eval-every"] as number }),
    ...(v["slow-rank"] === undefined ? {} : { slow: { rank: v["slow-rank"] as number, factor: v.slowdown as number } }),
    ...checkpointPlan(v),
    ...elasticPlan(v, workers),
    ...(maxBytes === undefined ? {} : { maxMemory: { bytes: maxBytes, text: String(v["max-memory"]) } }),
  };
  const { precision, bf16Path } = resolvePrecision(v.precision as PrecisionFlag, "weft train", (line) => void process.stderr.write(`${line}\n`));
  if (precision !== "f32") job.precision = precision;
  // Before any worker starts (train-memory.ts, check 1).
  if (job.maxMemory) checkPlannedMemory(recipe, settings, strategy, strategyOptions, workers, job.maxMemory);

  const runDir = v["run-dir"] as string | undefined;
  const result = strategy.distributed ? await trainOnWorkers(job, strategy, processes, runDir, dashboard) : await trainHere(job, recipe, strategy, runDir);
  if (result === undefined) return 1;
  const line = { ...result, backend: backend().name, ...(bf16Path === undefined ? {} : { bf16_path: bf16Path }) };
  if (v.json) console.log(JSON.stringify(line));
  else console.log(summary(line));
  return 0;
}

/** The job's checkpoint plan and resume source from the (checked) flags. */
function checkpointPlan(v: Readonly<Record<string, string | number | boolean | undefined>>): Pick<TrainJob, "checkpoint" | "resumeFrom"> {
  const at = v["checkpoint-dir"] ?? v.checkpoint;
  if (at === undefined) return {};
  const triggers = {
    ...(v["checkpoint-every"] === undefined ? {} : { everySteps: v["checkpoint-every"] as number }),
    ...(v["checkpoint-seconds"] === undefined ? {} : { everySeconds: v["checkpoint-seconds"] as number }),
  };
  const checkpoint = v["checkpoint-dir"] !== undefined
    ? { dir: at as string, ...triggers, ...(v.keep === undefined ? {} : { keep: v.keep as number }) }
    : { path: at as string, ...triggers };
  return { checkpoint, ...(v.resume === true ? { resumeFrom: at as string } : {}) };
}

/** One worker, in this process (with a metrics stream only when --run-dir asks for one); undefined when it went over --max-memory (it said so). */
async function trainHere(job: TrainJob, recipe: Recipe, strategy: StrategyEntry, runDir: string | undefined): Promise<RecipeResult | undefined> {
  const metrics = runDir === undefined ? undefined : new MetricsWriter({ runDir, rank: 0 });
  try {
    const result = await runRecipe({
      recipe, settings: job.settings, strategy: strategy.create(undefined, job.strategyOptions, 1), progress: true,
      checkpoint: job.checkpoint, resumeFrom: job.resumeFrom, metrics,
      ...(job.evaluateEvery === undefined ? {} : { evaluateEvery: job.evaluateEvery }),
      ...(job.slow === undefined ? {} : { slowdown: job.slow.factor }),
      ...(job.maxMemory ? { maxMemory: memoryLimitOf(job)! } : {}),
      ...(job.precision === undefined ? {} : { precision: job.precision }),
    });
    return { ...result, bytes_sent_per_worker: 0, ...(runDir === undefined ? {} : { run_dir: resolve(runDir) }) };
  } catch (err) {
    // Its message is the whole story (train-memory.ts, check 2): one line, no stack.
    if (!(err instanceof MemoryLimitError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return undefined;
  } finally {
    metrics?.close();
  }
}

/** Starts the job's processes through the launcher; returns rank 0's result, or undefined if the job failed (the launcher said why). */
async function trainOnWorkers(job: TrainJob, strategy: StrategyEntry, processes: number, runDir: string | undefined, dashboardAt?: DashboardFlags): Promise<RecipeResult | undefined> {
  const dashboard = dashboardAt ? await openDashboard(dashboardAt, "weft train") : undefined;
  const run = await launchJob({
    nproc: processes, nnodes: 1, nodeRank: 0, rdzvHost: "127.0.0.1", rdzvPort: 0, ...(runDir === undefined ? {} : { runDir }),
    ...(job.elastic ? { elastic: job.elastic } : {}),
    secret: process.env[ENV.secret] ?? generateSecret(),
    script: fileURLToPath(new URL("./train-worker.js", import.meta.url)),
    args: [JSON.stringify(job)], graceMs: 5000, liveMetrics: process.stderr.isTTY === true,
    ...(dashboard ? { observer: dashboard.observer } : {}),
  }).finally(() => dashboard?.close());
  if (run.exitCode !== 0) return undefined;
  const { final_members: finalMembers, ...result } = JSON.parse(readFileSync(join(run.runDir, RESULT_FILE), "utf8")) as RecipeResult & { final_members?: string[] };
  // An elastic job's reports are those of its final members, by member id; a fixed job's, by rank.
  const names: (string | number)[] = finalMembers ?? Array.from({ length: processes }, (_, r) => r);
  const reports = names.map((n) => JSON.parse(readFileSync(join(run.runDir, reportFile(n)), "utf8")) as RankReport);
  const training = finalMembers ? reports.length : job.workers;
  const sent = reports.slice(0, training).reduce((sum, r) => sum + Number(r.bytes_sent ?? 0), 0);
  return {
    ...result, bytes_sent_per_worker: Math.round(sent / training), ...strategy.combine?.(reports, training),
    memory: largestMemory(reports.slice(0, training)), run_dir: run.runDir,
    // The rank the others waited for most, when one stood out (Note [straggler score]).
    ...(run.straggler ? { straggler_rank: run.straggler.rank, straggler_ms: Math.round(run.straggler.score_ms * 100) / 100 } : {}),
  };
}

function summary(r: RecipeResult): string {
  const value = Number.isFinite(r.value) ? (r.metric.endsWith("accuracy") ? `${(100 * r.value).toFixed(2)}%` : r.value.toPrecision(4)) : String(r.value);
  const where = r.workers > 1 ? ` on ${r.workers} workers (${r.strategy})` : "";
  const extra = r.run_dir ? ` (metrics in ${r.run_dir})` : "";
  return `${r.recipe}: ${r.metric} ${value} after ${r.steps} steps${where}, ${r.samples_per_s} samples/s, ${r.wall_s} s${extra}`;
}
