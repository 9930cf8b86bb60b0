// Runs a recipe through the loop: seeds, the model, this rank's share of the data, the optimizer
// and schedule, fit(), and the result in the shape of the `--json` line. The same call runs in
// one process and in each worker of a job; only the strategy differs.
import { DataLoader, DistributedSampler, elasticShards } from "../data/index.js";
import { manualSeed } from "../nn/index.js";
import type { Module } from "../nn/index.js";
import type { Optimizer } from "../optim/index.js";
import type { MetricsWriter } from "../distributed/metrics/metrics-writer.js";
import type { Strategy } from "../distributed/strategies/strategy.js";
import type { ElasticGroup } from "../distributed/elastic/elastic-group.js";
import type { ProcessGroup } from "../distributed/group/process-group.js";
import { fit, type CheckpointFolderPlan, type CheckpointPlan, type ShardedEpochSource } from "./fit.js";
import type { Recipe, RecipeSettings } from "./recipe.js";
import type { MemoryLimit, MemoryReport } from "./memory.js";
import type { Precision } from "../tensor/index.js";

export interface RecipeRun {
  recipe: Recipe;
  settings: RecipeSettings;
  strategy: Strategy;
  /** Draw a progress bar on a terminal. */
  progress?: boolean;
  checkpoint?: CheckpointPlan | CheckpointFolderPlan;
  /** A checkpoint file, or a checkpoint folder: its newest checkpoint that verifies (fit's resumeFrom). */
  resumeFrom?: string;
  /** Also evaluate every this many epochs, into the metrics stream (fit's evaluateEvery). */
  evaluateEvery?: number;
  /** Make this rank this many times slower (fit's slowdown; the caller picks the rank). */
  slowdown?: number;
  /** Where the per-step metrics go (default: fit's, the run folder under the launcher). */
  metrics?: MetricsWriter;
  /** Go on when workers are lost or join (fit's elastic; `strategy` is then the first generation's). */
  elastic?: { group: ElasticGroup; strategyFor(pg: ProcessGroup): Strategy };
  /**
   * The first generation's workers, which an elastic run's schedule and budget count in
   * (Note [the schedule's clock]): a joiner's own first generation may be larger or smaller.
   */
  baseWorkers?: number;
  /** Fail after the first step if this rank holds more (fit's maxMemory; weft train --max-memory). */
  maxMemory?: MemoryLimit;
  /** The precision of matrix products (fit's precision; weft train --precision). */
  precision?: Precision;
}

/**
 * What a recipe builds before training, the same on every process of a job: the seeded model,
 * its optimizer and schedule, and the steps each of `workers` training ranks will take. A
 * parameter server builds these too, to own its shard of the same model.
 */
export interface RecipeParts {
  model: Module;
  optimizer: Optimizer;
  schedule: (step: number) => number;
  /** Training rank `rank`'s share of the data, one of `workers`. */
  data: DataLoader<unknown, unknown>;
  /** Steps each training rank takes in all (epochs and --max-steps applied). */
  totalSteps: number;
  /** The same data for an elastic run: the rest of any epoch, for any number of ranks. */
  shards: ShardedEpochSource<unknown>;
}

export function buildRecipeParts(recipe: Recipe, settings: RecipeSettings, rank: number, workers: number): RecipeParts {
  manualSeed(settings.seed);
  const model = recipe.model(settings);
  const { train, collate } = recipe.data(settings);
  // One sampler for every world size: with one rank it is the seeded shuffle of the whole set.
  const sampler = new DistributedSampler(train.length, { rank, worldSize: workers, seed: settings.seed });
  const data = new DataLoader(train, { batchSize: settings.batch, collate, seed: settings.seed, sampler });
  const totalSteps = Math.min(settings.epochs * data.batchesPerEpoch, settings.maxSteps ?? Infinity);
  const shards = elasticShards(train, { batchSize: settings.batch, collate, seed: settings.seed });
  return { model, optimizer: recipe.optimizer(model, settings), schedule: recipe.schedule(settings, totalSteps), data, totalSteps, shards };
}

/** The result of a run: the `--json` line's fields (the caller adds where it ran). */
export interface RecipeResult {
  recipe: string;
  strategy: string;
  workers: number;
  metric: string;
  value: number;
  epochs: number;
  steps: number;
  train_loss: number;
  samples_per_s: number;
  wall_s: number;
  bytes_sent: number;
  bytes_received: number;
  /** This rank's memory over the run, in bytes (the job's line: the largest over the training workers, field by field). */
  memory: MemoryReport;
  [field: string]: string | number | boolean | number[] | MemoryReport;
}

export async function runRecipe(run: RecipeRun): Promise<RecipeResult> {
  const { recipe, settings, strategy } = run;
  // The data of `data` is this rank's fixed shard; an elastic run re-deals `shards` instead, so only the schedule needs the base size.
  const base = run.baseWorkers ?? strategy.dataShard?.worldSize ?? strategy.worldSize;
  const dataRank = strategy.dataShard?.rank ?? strategy.rank;
  const { model, optimizer, schedule, data, shards } = buildRecipeParts(recipe, settings, Math.min(dataRank, base - 1), base);
  const result = await fit({
    model,
    optimizer,
    data,
    loss: (m, b) => recipe.loss(m, b),
    ...(recipe.layers ? { layers: recipe.layers(model, settings) } : {}),
    ...(recipe.tensorParallel ? { tensorParallel: (group: ProcessGroup) => recipe.tensorParallel!(model, settings, group) } : {}),
    samplesIn: (b) => recipe.samplesIn(b),
    epochs: settings.epochs,
    ...(settings.maxSteps === undefined ? {} : { maxSteps: settings.maxSteps }),
    schedule,
    strategy,
    evaluate: (m) => recipe.evaluate(m, settings),
    ...(run.checkpoint ? { checkpoint: { ...run.checkpoint, config: { recipe: recipe.name, settings } } } : {}),
    ...(run.resumeFrom === undefined ? {} : { resumeFrom: run.resumeFrom }),
    ...(run.progress ? { progress: recipe.name } : {}),
    ...(run.evaluateEvery === undefined ? {} : { evaluateEvery: run.evaluateEvery }),
    ...(run.slowdown === undefined ? {} : { slowdown: run.slowdown }),
    ...(run.metrics === undefined ? {} : { metrics: run.metrics }),
    ...(run.elastic ? { elastic: { ...run.elastic, data: shards } } : {}),
    ...(run.maxMemory === undefined ? {} : { maxMemory: run.maxMemory }),
    ...(run.precision === undefined ? {} : { precision: run.precision }),
  });
  const value = result.evaluation[recipe.metric.name] ?? NaN;
  return {
    recipe: recipe.name, strategy: strategy.name, workers: strategy.worldSize,
    metric: recipe.metric.name, value, ...result.evaluation,
    epochs: settings.epochs, steps: result.final_step, precision: run.precision ?? "f32",
    ...(result.resumed_from_step === undefined ? {} : { resumed_from_step: result.resumed_from_step }),
    train_loss: result.train_loss,
    samples_per_s: result.samples_per_s, wall_s: result.wall_s,
    step_ms_mean: result.step_ms_mean, step_ms_p90: result.step_ms_p90,
    bytes_sent: result.traffic.sent, bytes_received: result.traffic.received,
    memory: result.memory,
    ...result.strategy,
    ...(result.elastic ? {
      recoveries: result.elastic.recoveries, recovery_ms: result.elastic.recovery_ms,
      final_workers: result.elastic.final_workers, generation: result.elastic.generation,
    } : {}),
  };
}
