// The training loop: one for every recipe and every strategy, in one process or in each of N.
//
// One step, in order:
//  1. the schedule sets the learning rate for this step;
//  2. the strategy runs it: zero the gradients, forward (the caller's `loss`), backward, its
//     communication, the update; a non-finite loss throws before anything is updated
//     (strategies/non-finite-loss.ts) and ends the loop with the step named;
//  3. the step is reported: the progress bar (on a terminal), the metrics stream (under the
//     launcher), and `onStep`;
//  4. a rank made slower on purpose (`slowdown`) sleeps in proportion to the step's compute;
//  5. every `checkpoint.everySteps` steps (or `everySeconds`), the rank the strategy names copies
//     its state and hands it to the checkpoint writer's thread (Note [checkpoints off the critical
//     path]); every `evaluateEvery` epochs, the rank that writes results evaluates into the metrics.
// After the last step the strategy finishes (asynchronous ones settle their replicas), and the
// rank that writes results saves (and waits until the file is durable), evaluates and the result
// is returned.
//
// Resuming reads the checkpoint (a file, or a folder's newest that verifies) before the strategy's
// set-up (so DDP broadcasts the loaded state), then skips to the saved step: the data loader's
// batches are a function of (seed, epoch, batch), so the resumed run sees exactly the batches the
// uninterrupted run would have.
import { autocast, releaseBufferPool, reusingBuffers, type Precision, type Tensor } from "../tensor/index.js";
import { loadTrainingCheckpoint, snapshotTrainingState } from "./training-checkpoint.js";
import {
  checkpointDirProblem, checkpointFileProblem, listStepCheckpoints, loadNewestCheckpoint, pruneCheckpoints, removeStaleTemporaries, removeStaleTemporariesOf,
  shardCheckpointPath, stepCheckpointPath,
} from "./checkpoint-folder.js";
import { snapshotStateShard } from "./sharded-checkpoint.js";
import { CheckpointWriter } from "./checkpoint-writer.js";
import { ProgressBar } from "./progress-bar.js";
import { MemoryMeter, type MemoryLimit, type MemoryReport } from "./memory.js";
import { percentile } from "./percentile.js";
import type { LayerStack, Module } from "../nn/index.js";
import type { Optimizer } from "../optim/index.js";
import { statSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { MetricsWriter } from "../distributed/metrics/metrics-writer.js";
import { flightRecorder } from "../distributed/group/flight-recorder.js";
import { ENV } from "../distributed/rendezvous/worker-env.js";
import { SingleStrategy } from "../distributed/strategies/single.js";
import type { SetupContext, Strategy, Traffic } from "../distributed/strategies/strategy.js";
import type { TensorParallelModel } from "../distributed/tensor-parallel/tensor-parallel-model.js";
import type { ProcessGroup } from "../distributed/group/process-group.js";
import { isRecoverable, type ElasticGroup } from "../distributed/elastic/elastic-group.js";
import type { CollectiveError } from "../distributed/base/errors.js";
import { syncTrainingState, type TrainingPosition } from "../distributed/elastic/state-sync.js";
import { positionsConsumed } from "../data/index.js";
import { initRng } from "../nn/index.js";
import { modelDigest } from "../distributed/strategies/flat-state.js";
import { CheckpointRequests } from "./checkpoint-request.js";

/** Batches of an epoch on this rank; a DataLoader (with a DistributedSampler per rank) is one. */
export interface EpochSource<B> {
  readonly batchesPerEpoch: number;
  epoch(epoch: number, fromBatch?: number): AsyncIterable<B>;
}

/** When checkpoints are written, besides after the last step. */
export interface CheckpointTriggers {
  /** Every this many steps. */
  everySteps?: number;
  /** Every this many seconds of training (checked after each step). */
  everySeconds?: number;
}

/**
 * One checkpoint file, overwritten in place at each checkpoint: for a result to keep, and what a
 * parameter server's shard files (`<path>.server-<k>`) sit beside.
 */
export interface CheckpointPlan extends CheckpointTriggers {
  path: string;
}

/**
 * A folder of checkpoints, `step-<n>.safetensors`, of which the newest `keep` are kept: what a
 * run resumes from after being killed (`resumeFrom` the same folder; src/train/checkpoint-folder.ts).
 */
export interface CheckpointFolderPlan extends CheckpointTriggers {
  dir: string;
  /** How many checkpoints to keep (default 3); older ones are deleted once a newer one is durable. */
  keep?: number;
}

/** The default of CheckpointFolderPlan.keep (and of `weft train --keep`). */
export const DEFAULT_KEEP = 3;

export interface FitOptions<B> {
  model: Module;
  optimizer: Optimizer;
  /** This rank's batches (an elastic run takes `elastic.data` instead). */
  data?: EpochSource<B>;
  /** Forward on one batch: returns the loss (a scalar tensor). */
  loss(model: Module, batch: B): Tensor;
  /** The model as a stack of layers computing `loss`, for strategies that cut it across workers (Recipe.layers). */
  layers?: LayerStack<B>;
  /** The model split across a tensor-parallel group's ranks (Recipe.tensorParallel), for `--strategy tensor`. */
  tensorParallel?: (group: ProcessGroup) => TensorParallelModel<B>;
  /** Samples in a batch, for throughput. */
  samplesIn(batch: B): number;
  /** Passes over the data (default 1). */
  epochs?: number;
  /** Stop after this many steps in all, even mid-epoch. */
  maxSteps?: number;
  /** The learning rate of each step (default: the optimizer's, unchanged). */
  schedule?(step: number): number;
  /** How the step runs across ranks (default SingleStrategy: one process). */
  strategy?: Strategy;
  /** After training, on the rank that writes results: the metrics of the trained model. */
  evaluate?(model: Module): Record<string, number>;
  /**
   * Write checkpoints, with `config` in their metadata: at the triggers and after the last step,
   * to one file (`path`) or a folder (`dir`). Writes are atomic; a folder's run on a thread of
   * their own while training goes on (one at a time), a single file's before the next step. The
   * last is durable when fit() returns. A start removes the temporary files a killed save left.
   */
  checkpoint?: (CheckpointPlan | CheckpointFolderPlan) & { config?: unknown };
  /**
   * Resume from this checkpoint file, or from this folder's newest checkpoint that verifies (a
   * damaged one is named through `onWarning` and the one before it used). Written by `checkpoint`
   * with the same model and data.
   */
  resumeFrom?: string;
  /** A line worth a person's attention (a damaged checkpoint skipped, stale temporaries removed); default: stderr, on rank 0. */
  onWarning?(line: string): void;
  /** Per-step metrics of this rank (default under the launcher: a MetricsWriter into the job's run folder). */
  metrics?: MetricsWriter;
  /** Label of the progress bar drawn on a terminal (default none: no bar). */
  progress?: string;
  /** Called after every step. */
  onStep?(info: StepInfo): void;
  /**
   * Reuse each step's activation and gradient buffers in the next (default true; Note [reusing a
   * step's buffers] in tensor/storage.ts): a tensor the loss function keeps past its step must be
   * detach()ed. false: fresh buffers every step, garbage for the collector.
   */
  reuseBuffers?: boolean;
  /**
   * Also evaluate every this many epochs, on the rank that writes results, into the metrics
   * stream (an "eval" line with the time so far), for curves of the metric against time.
   */
  evaluateEvery?: number;
  /**
   * Make this rank this many times slower (>= 1; default 1): after each step it sleeps for
   * (slowdown - 1) times the step's compute, so stragglers can be studied on one machine.
   */
  slowdown?: number;
  /**
   * Go on when workers are lost or join: the strategy is made for each generation's group, the
   * data re-dealt among its ranks, the state taken from its rank 0. `strategy` is not used.
   */
  elastic?: ElasticFit<B>;
  /**
   * Fail after the first step (MemoryLimitError) if this rank holds more than this in parameters,
   * gradients, optimizer state and activations at their peak together (train/memory.ts).
   */
  maxMemory?: MemoryLimit;
  /**
   * The precision of matrix products for the whole run, training and evaluation alike (default
   * "f32"): "bf16" runs it under autocast("bf16"), so weights, gradients and optimizer state stay
   * float32 (Note [bf16 products] in tensor/autocast.ts). It holds for the process while fit runs.
   */
  precision?: Precision;
}

/**
 * The data of an elastic run: what is left of an epoch, re-dealt to however many ranks there are
 * now (data/elastic-shard-sampler.ts).
 */
export interface ShardedEpochSource<B> {
  /** Samples in an epoch's permutation. */
  readonly samplesPerEpoch: number;
  /** Samples per rank per step. */
  readonly batchSize: number;
  /** Rank `rank` of `worldSize`'s batches over the epoch's permutation positions from `fromSample` on. */
  shard(epoch: number, fromSample: number, rank: number, worldSize: number): AsyncIterable<B>;
}

/** What fit() needs to go on when workers are lost or join (Note [re-forming at the step boundary]). */
export interface ElasticFit<B> {
  /** The job's membership and the current generation's group. */
  group: ElasticGroup;
  /** The strategy over a generation's group (a new one for each generation). */
  strategyFor(pg: ProcessGroup): Strategy;
  data: ShardedEpochSource<B>;
}

export interface StepInfo {
  /** Steps done, this one included. */
  step: number;
  epoch: number;
  loss: number;
  samples: number;
  computeMs: number;
  commMs: number;
  waitMs: number;
}

export interface FitResult {
  /** Steps taken in this call (a resumed run counts from where it resumed). */
  steps: number;
  /** Where the run ended, counting the steps before a resume. */
  final_step: number;
  /** The step of the checkpoint this run resumed from (absent when it did not resume). */
  resumed_from_step?: number;
  /** Loss of the last step (averaged over the ranks when the strategy does so). */
  train_loss: number;
  /** Samples per second over the job: this rank's rate times the number of ranks. */
  samples_per_s: number;
  wall_s: number;
  /** What evaluate() returned (on the rank that writes results; empty elsewhere). */
  evaluation: Record<string, number>;
  /** What the strategy adds (e.g. DDP's parameter digest). */
  strategy: Record<string, string | number | boolean>;
  /** Mean and 90th percentile of this rank's step time, ms (a slowed rank's sleep included). */
  step_ms_mean: number;
  step_ms_p90: number;
  /** Bytes this rank sent and received during the run. */
  traffic: Traffic;
  /** This rank's memory over the run, in bytes (train/memory.ts, MemoryMeter). */
  memory: MemoryReport;
  /** An elastic run's membership: re-formations after the first generation, their times, and the workers at the end. */
  elastic?: { recoveries: number; recovery_ms: number[]; final_workers: number; generation: number; writes_result: boolean };
}

function checkCount(name: string, v: number | undefined, min: number): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= min)) throw new RangeError(`fit: ${name} must be an integer >= ${min}, got ${v}`);
}

/**
 * Trains `model` on `data` and returns what happened.
 *
 * @example XOR through the loop
 * ```ts
 * import { Adam, fit, Linear, manualSeed, mseLoss, ReLU, Sequential, tensor } from "weft";
 * manualSeed(0);
 * const model = new Sequential(new Linear(2, 16), new ReLU(), new Linear(16, 1));
 * const batch = { x: tensor([0, 0, 0, 1, 1, 0, 1, 1], [4, 2]), y: tensor([0, 1, 1, 0], [4, 1]) };
 * const data = { batchesPerEpoch: 1, async *epoch() { yield batch; } };
 * const result = await fit({
 *   model, optimizer: new Adam(model.parameters(), { lr: 0.05 }), data, epochs: 300,
 *   loss: (m, b) => mseLoss(m.forward(b.x), b.y), samplesIn: () => 4,
 * });
 * assert.ok(result.train_loss < 0.01, `XOR not learned: ${result.train_loss}`);
 * ```
 */
export async function fit<B>(o: FitOptions<B>): Promise<FitResult> {
  const precision = o.precision ?? "f32";
  return autocast(precision, () => fitIn(o));
}

async function fitIn<B>(o: FitOptions<B>): Promise<FitResult> {
  const elastic = o.elastic;
  let strategy: Strategy = elastic ? elastic.strategyFor(elastic.group.group) : o.strategy ?? new SingleStrategy();
  const setupContext: SetupContext = { layers: o.layers as LayerStack<unknown> | undefined, tensorParallel: o.tensorParallel as SetupContext["tensorParallel"] };
  const meter = new MemoryMeter(o.model, o.optimizer, o.maxMemory, setupContext.layers);
  const epochs = o.epochs ?? 1;
  checkCount("epochs", epochs, 1);
  checkCount("maxSteps", o.maxSteps, 1);
  checkCount("checkpoint.everySteps", o.checkpoint?.everySteps, 1);
  const everySeconds = o.checkpoint?.everySeconds;
  if (everySeconds !== undefined && !(everySeconds > 0 && Number.isFinite(everySeconds))) throw new RangeError(`fit: checkpoint.everySeconds must be a number above 0, got ${everySeconds}`);
  const folder = o.checkpoint && "dir" in o.checkpoint ? o.checkpoint : undefined;
  const keep = folder?.keep ?? DEFAULT_KEEP;
  checkCount("checkpoint.keep", keep, 1);
  checkCount("evaluateEvery", o.evaluateEvery, 1);
  const slowdown = o.slowdown ?? 1;
  if (!(slowdown >= 1 && Number.isFinite(slowdown))) throw new RangeError(`fit: slowdown must be a number >= 1 (1 is full speed), got ${slowdown}`);
  if (!o.data && !elastic) throw new RangeError("fit: no data: pass `data` (or `elastic.data` for an elastic run)");
  const perEpoch = elastic ? Math.ceil(elastic.data.samplesPerEpoch / elastic.data.batchSize / strategy.worldSize) : o.data!.batchesPerEpoch;
  if (perEpoch < 1) throw new RangeError("fit: the data has no batches; check the data set and the batch size");
  // In an elastic run the steps of an epoch change with the workers; the budget counts steps of
  // the first generation's size (Note [the schedule's clock]).
  const totalSteps = Math.min(epochs * perEpoch, o.maxSteps ?? Infinity);
  // What a checkpoint's position means depends on these (Note [what a resume needs]).
  const layout: RunLayout = elastic
    ? { samples_per_epoch: elastic.data.samplesPerEpoch, batch_size: elastic.data.batchSize }
    : { world_size: strategy.dataShard?.worldSize ?? strategy.worldSize, batches_per_epoch: perEpoch }; // the ranks that read different batches
  // Sharded strategies write a file per rank into a folder (Note [a sharded checkpoint is complete]).
  const sharded = strategy.stateShard !== undefined;
  if (sharded && o.checkpoint && !folder) throw new RangeError(`fit: --strategy ${strategy.name} writes one checkpoint file per worker: give a checkpoint folder (checkpoint.dir, weft train --checkpoint-dir DIR) instead of one file`);
  if (sharded && folder && keep < 2) throw new RangeError(`fit: --strategy ${strategy.name} writes one checkpoint file per worker and needs checkpoint.keep >= 2 (--keep 2), so that one complete set always remains`);
  const folderProblem = o.checkpoint && (folder ? checkpointDirProblem(folder.dir) : checkpointFileProblem((o.checkpoint as CheckpointPlan).path));
  if (folderProblem) throw new RangeError(`fit: cannot write the checkpoint${folder ? "s to" : ""} ${folder ? folder.dir : (o.checkpoint as CheckpointPlan).path}: ${folderProblem}`);
  // Warnings come from rank 0 alone: every rank resumes from the same files and would say the same.
  const warn = o.onWarning ?? ((line: string) => void (strategy.rank === 0 && process.stderr.write(`weft: ${line}\n`)));

  let position: TrainingPosition = { step: 0, epoch: 0, sample: 0, scheduleStep: 0, baseWorld: strategy.worldSize, rng: [] };
  let resumedFromStep: number | undefined;
  if (o.resumeFrom !== undefined) {
    const state = { model: o.model, optimizer: o.optimizer };
    const saved = isFolder(o.resumeFrom)
      ? await loadNewestCheckpoint(o.resumeFrom, state, warn)
      : { path: o.resumeFrom, ...(await loadTrainingCheckpoint(o.resumeFrom, state)) };
    const savedRun = checkLayout(saved.path, saved.config, layout);
    position = savedRun.position
      ? { ...savedRun.position, step: saved.step, rng: [] }
      : resumedPosition(saved.path, savedRun, saved.step, layout, strategy.worldSize);
    resumedFromStep = saved.step;
    if (!elastic && position.step > totalSteps) throw new RangeError(`fit: the checkpoint ${saved.path} is at step ${position.step}, past this run's ${totalSteps} steps; raise the budget (epochs or maxSteps) to go on`);
  } else if (folder && (elastic?.group.generation.number ?? 0) === 0) {
    // (A worker joining an elastic run finds the run's own checkpoints there.)
    const earlier = listStepCheckpoints(folder.dir)[0];
    if (earlier) {
      throw new RangeError(`fit: ${folder.dir} already holds checkpoints of a run (up to ${earlier.path}); resume from it, or write to an empty folder`);
    }
  }
  // Under the launcher, the per-step metrics go to the job's run folder unless the caller chose.
  const ownMetrics = o.metrics === undefined && process.env[ENV.runDir] !== undefined ? new MetricsWriter() : undefined;
  const metrics = o.metrics ?? ownMetrics;
  // Under the launcher, a checkpoint may also be asked for while the job runs (the dashboard's
  // POST /control/checkpoint): at a step the launcher names, the same on every worker
  // (Note [checkpoint now] in distributed/launch/checkpoint-request.ts).
  const runDir = process.env[ENV.runDir];
  const requests = runDir === undefined ? undefined : CheckpointRequests.listen({
    runDir, rank: Number(process.env[ENV.rank] ?? 0), destination: folder ? "folder" : o.checkpoint ? "file" : null, step: position.step,
    write: (e) => metrics?.write(e), warn: (line) => process.stderr.write(`weft: ${line}\n`),
  });
  let checkpoints: CheckpointWriter | undefined;
  /** Replicas of a new generation start from its rank 0's state (elastic/state-sync.ts). */
  let hasState = !elastic || !elastic.group.generation.joined.includes(elastic.group.memberId);
  const syncState = async (): Promise<void> => {
    if (!elastic) return;
    position = await syncTrainingState(elastic.group.group, o.model, o.optimizer, { ...position, rng: initRng().getState() });
    initRng().setState(position.rng);
    hasState = true;
    // Every member's digest of the state it now holds, so a reader of the metrics (weft chaos)
    // can check the replicas agreed after every re-formation.
    metrics?.write({ event: "state_synced", step: position.step, generation: elastic.group.generation.number, digest: modelDigest(o.model) });
  };
  // Bytes of the generations before the current one's group.
  const retired = { sent: 0, received: 0 };
  const traffic = (): Traffic => {
    const t = strategy.traffic();
    return { sent: retired.sent + t.sent, received: retired.received + t.received };
  };
  try {
    // Inside the try: a set-up that fails halfway (a subgroup made, the next refused) is ended too.
    /**
     * Note [re-forming at the step boundary]: the failed step is not counted (its position did not
     * move); the member furthest along becomes rank 0 of the new group and everyone takes its
     * state, so a step that completed anywhere is kept. A failure while the new generation hands
     * its state on (another member lost meanwhile) re-forms again.
     */
    const recover = async (cause: CollectiveError): Promise<void> => {
      for (let err = cause; ;) {
        const t = strategy.traffic();
        retired.sent += t.sent;
        retired.received += t.received;
        await strategy.end();
        metrics?.write({ event: "failure_seen", step: position.step, generation: elastic!.group.generation.number, error: err.name, ranks: [...err.ranks] });
        warn(`elastic: ${err.message}; re-forming the group`);
        // A joiner whose state was never handed over has none to offer (-1: never chosen to hand on).
        const gen = await elastic!.group.reform(err, hasState ? position.step : -1);
        strategy = elastic!.strategyFor(elastic!.group.group);
        try {
          await syncState();
          await strategy.setup(o.model, o.optimizer, setupContext);
        } catch (again) {
          if (!isRecoverable(again)) throw again;
          err = again;
          continue;
        }
        await openWriter();
        process.stderr.write(`weft: elastic: generation ${gen.number} of ${gen.members.length} worker(s) formed in ${elastic!.group.recoveries.at(-1)!.ms} ms` +
          `${gen.lost.length ? `, without ${gen.lost.join(", ")}` : ""}${gen.joined.length ? `, with ${gen.joined.join(", ")} joining` : ""}; rank ${strategy.rank} resumes at step ${position.step}\n`);
        return;
      }
    };
    let openWriter = async (): Promise<void> => {};
    try {
      await syncState();
      await strategy.setup(o.model, o.optimizer, setupContext);
    } catch (err) {
      if (!elastic || !isRecoverable(err)) throw err;
      await recover(err);
    }
    let starting = true;
    openWriter = async (): Promise<void> => {
      if (!o.checkpoint || checkpoints || !strategy.writesCheckpoints()) return;
      // Only at the start: a member that becomes the writer after a re-formation must not remove
      // the temporary file of a save the previous writer (still alive) has in flight.
      // (A sharded run's ranks share the folder: rank 0 cleans it, before any rank's first save.)
      const stale = !starting || (sharded && strategy.rank !== 0) ? { files: 0, bytes: 0 }
        : folder ? await removeStaleTemporaries(folder.dir) : await removeStaleTemporariesOf((o.checkpoint as CheckpointPlan).path);
      if (stale.files > 0) {
        warn(`removed ${stale.files} temporary checkpoint file(s) left by interrupted saves in ${folder ? folder.dir : dirname(resolve((o.checkpoint as CheckpointPlan).path))}: ${stale.bytes} bytes`);
      }
      checkpoints = new CheckpointWriter(folder ? (_path, at) => pruneCheckpoints(folder.dir, keep, at, sharded ? { rank: strategy.rank } : undefined) : undefined);
    };
    await openWriter();
    starting = false;
    let savedAt = performance.now();
    // Note [checkpoints off the critical path]: the state is copied here, between steps; the
    // digests, encoding and atomic write run on the writer's thread while the next steps train.
    const save = async (): Promise<void> => {
      if (!o.checkpoint || !checkpoints || !strategy.writesCheckpoints()) return;
      const run: RunLayout = elastic ? { ...layout, position: { epoch: position.epoch, sample: position.sample, scheduleStep: position.scheduleStep, baseWorld: position.baseWorld } } : layout;
      const config = { run, config: o.checkpoint.config ?? null };
      const snapshot = strategy.stateShard
        ? snapshotStateShard(strategy.stateShard(), position.step, strategy.rank, strategy.worldSize, config)
        : snapshotTrainingState({ model: o.model, optimizer: o.optimizer }, position.step, config);
      const path = !folder ? (o.checkpoint as CheckpointPlan).path
        : strategy.stateShard ? shardCheckpointPath(folder.dir, position.step, strategy.rank, strategy.worldSize) : stepCheckpointPath(folder.dir, position.step);
      await checkpoints.save(path, snapshot);
      // A single file is durable before the next step: a parameter server writes its shard files
      // beside it at the same step, and a kill must never find them ahead of it.
      if (!folder) await checkpoints.drain();
      metrics?.write({ event: "checkpoint_written", step: position.step, path: basename(path) });
      savedAt = performance.now();
    };
    const due = (): boolean =>
      (o.checkpoint?.everySteps !== undefined && position.step % o.checkpoint.everySteps === 0) ||
      (everySeconds !== undefined && performance.now() - savedAt >= everySeconds * 1000);
    const bar = o.progress !== undefined && strategy.writesCheckpoints() && !elastic ? new ProgressBar(o.progress, totalSteps) : undefined;
    const window = { samples: 0, ms: 0 };
    if (resumedFromStep !== undefined) metrics?.write({ event: "resumed", step: resumedFromStep });

    const startStep = position.step;
    let samples = 0;
    let lastLoss = NaN;
    const stepMs: number[] = [];
    const trafficAtStart = traffic();
    const started = performance.now();
    const sinceStart = (): number => Math.round(performance.now() - started) / 1000;
    // An eval line's time is when the parameters it scores were reached (before it evaluates),
    // the same for those in between and the last; earlier evaluations' time is in it.
    const evaluateNow = (epoch: number): void => {
      if (!strategy.writesCheckpoints() || !o.evaluate) return;
      const reached = sinceStart();
      const evaluation = o.evaluate(o.model);
      o.model.train();
      metrics?.write({ event: "eval", step: position.step, epoch, wall_s: reached, ...evaluation });
    };
    // An elastic run's epochs end when their samples do (Note [the schedule's clock]); --max-steps still bounds it.
    const budget = elastic ? (o.maxSteps ?? Infinity) : totalSteps;
    const budgetSpent = (): boolean => position.scheduleStep >= budget - 1e-9;
    /** This rank's batches from the current position: a fixed shard by batch, or the rest of the epoch re-dealt (elastic). */
    const batchesFromHere = (): AsyncIterable<B> =>
      elastic
        ? elastic.data.shard(position.epoch, position.sample, strategy.rank, strategy.worldSize)
        : o.data!.epoch(position.epoch, position.step - position.epoch * perEpoch);
    /** Moves the position past one step of `world` ranks, the `j`-th since `from`. */
    const advance = (from: number, world: number, j: number): void => {
      position.step++;
      position.scheduleStep += world / position.baseWorld;
      if (elastic) {
        position.sample += positionsConsumed(elastic.data.samplesPerEpoch, from, world, elastic.data.batchSize, j);
      }
    };
    const reuse = o.reuseBuffers ?? true;
    o.model.train();
    for (;;) {
      try {
        while (position.epoch < epochs && !budgetSpent()) {
          if (elastic && position.sample >= elastic.data.samplesPerEpoch) {
            position.epoch++;
            position.sample = 0;
            continue;
          }
          const from = position.sample;
          const world = strategy.worldSize;
          let j = 0;
          for await (const batch of batchesFromHere()) {
            elastic?.group.pollJoins();
            const t0 = performance.now();
            if (o.schedule) o.optimizer.lr = o.schedule(Math.floor(position.scheduleStep + 1e-9));
            meter.stepStarted();
            // The waits of this step's collectives only, for `wait_for` (Note [straggler score]).
            flightRecorder.takeWaits();
            const input = { step: position.step + 1, forward: () => o.loss(o.model, batch), batch };
            const outcome = await (reuse ? reusingBuffers(() => strategy.step(input)) : strategy.step(input));
            advance(from, world, j++);
            if (outcome.skipped) {
              // The position still moves on (checkpoints and the budget count batches), nothing else.
              if (budgetSpent()) break;
              continue;
            }
            const memory = meter.stepEnded(strategy, position.step);
            if (slowdown > 1) await sleep((slowdown - 1) * (performance.now() - t0 - outcome.waitMs));
            const ms = performance.now() - t0;
            stepMs.push(ms);
            elastic?.group.noteStep(ms);
            const n = o.samplesIn(batch);
            samples += n;
            lastLoss = outcome.loss;
            const info: StepInfo = { step: position.step, epoch: position.epoch, loss: outcome.loss, samples: n, computeMs: ms - outcome.waitMs, commMs: outcome.commMs, waitMs: outcome.waitMs };
            const moved = metrics ? traffic() : undefined;
            metrics?.write({
              step: position.step, epoch: position.epoch, loss: info.loss, samples_per_s: Math.round((1000 * n) / ms),
              compute_ms: round2(info.computeMs), comm_ms: round2(info.commMs), wait_ms: round2(info.waitMs),
              wall_s: sinceStart(), bytes_sent: moved!.sent - trafficAtStart.sent, bytes_received: moved!.received - trafficAtStart.received,
              ...(elastic ? { generation: elastic.group.generation.number, workers: world } : {}),
              ...(world > 1 ? { wait_for: flightRecorder.takeWaits() } : {}),
              ...memory,
              ...outcome.metrics,
            });
            if (bar) {
              window.samples += n;
              window.ms += ms;
              bar.update(position.step, { epoch: `${position.epoch + 1}/${epochs}`, loss: info.loss.toFixed(4), "samples/s": Math.round((1000 * window.samples) / window.ms) });
              if (window.ms > 1000) (window.samples = 0), (window.ms = 0);
            }
            o.onStep?.(info);
            // A requested checkpoint costs a number compare per step; at the budget's last step the final save is it.
            const requested = requests?.reached(position.step, strategy.writesCheckpoints()) ?? false;
            if (!budgetSpent() && (due() || requested)) await save();
            if (budgetSpent()) break;
          }
          if (budgetSpent()) break;
          const epoch = position.epoch;
          position.epoch++;
          position.sample = 0;
          // The last epoch's evaluation is the result's, below; this is for the curve in between.
          if (o.evaluateEvery && (epoch + 1) % o.evaluateEvery === 0 && !budgetSpent() && position.epoch < epochs) evaluateNow(epoch);
        }
        elastic?.group.stopPolling();
        await strategy.finish();
        break;
      } catch (err) {
        if (!elastic || !isRecoverable(err)) throw err;
        await recover(err);
      }
    }
    bar?.finish();
    const wall = (performance.now() - started) / 1000;
    const moved = traffic();
    await save();
    await checkpoints?.drain(); // the last checkpoint is durable before the result says so
    const writer = strategy.writesCheckpoints();
    const evaluation = writer && o.evaluate ? o.evaluate(o.model) : {};
    releaseBufferPool();
    if (o.evaluateEvery && writer && o.evaluate) {
      const lastEpoch = elastic ? (position.sample > 0 ? position.epoch : position.epoch - 1) : Math.ceil(position.step / perEpoch) - 1;
      metrics?.write({ event: "eval", step: position.step, epoch: lastEpoch, wall_s: Math.round(wall * 1000) / 1000, ...evaluation });
    }
    const recoveries = elastic ? elastic.group.recoveries.filter((r) => r.generation > 0) : [];
    return {
      steps: position.step - startStep, final_step: position.step, ...(resumedFromStep === undefined ? {} : { resumed_from_step: resumedFromStep }),
      train_loss: lastLoss,
      // Ranks sharing a data shard (a pipeline's stages) train on the same samples: count them once.
      samples_per_s: wall > 0 ? Math.round((samples * (strategy.dataShard?.worldSize ?? strategy.worldSize)) / wall) : 0,
      wall_s: Math.round(wall * 100) / 100,
      evaluation, strategy: strategy.report(),
      step_ms_mean: round2(stepMs.reduce((a, b) => a + b, 0) / Math.max(1, stepMs.length)),
      step_ms_p90: round2(percentile(stepMs, 0.9)),
      traffic: { sent: moved.sent - trafficAtStart.sent, received: moved.received - trafficAtStart.received },
      memory: meter.report(),
      ...(elastic ? {
        elastic: {
          recoveries: recoveries.length, recovery_ms: recoveries.map((r) => r.ms), final_workers: strategy.worldSize,
          generation: elastic.group.generation.number, writes_result: writer,
        },
      } : {}),
    };
  } finally {
    // On a failure too: a write in flight finishes (it is a good checkpoint) before fit() throws.
    await checkpoints?.close();
    requests?.close(position.step, strategy.writesCheckpoints());
    ownMetrics?.close();
    await strategy.end();
  }
}

// Note [re-forming at the step boundary]
// In an elastic run (FitOptions.elastic) a step that fails with a collective error (a member was
// lost: its links closed or it fell silent; or rank 0 aborted the generation because a worker
// asked to join) is not counted: its position has not moved. The survivors stand for the next
// generation with the steps their state has taken (elastic/membership.ts); the one furthest
// along becomes rank 0, and every member takes its parameters, optimizer state, position and
// random generator (elastic/state-sync.ts) before the strategy is set up again on the new group.
// A step whose all-reduce completed on some rank before the loss is therefore kept (that rank
// stepped on gradients from every member, the lost one included), and one that completed nowhere
// is redone by the survivors, with the rest of the epoch re-dealt among them (Note [an epoch is a
// range of permutation positions] in data/elastic-shard-sampler.ts): no sample is skipped or
// seen twice beyond the interrupted step.
//
// Note [the schedule's clock]
// The schedule and --max-steps count steps of the first generation's size: a step of W ranks
// adds W / W0 to the clock. So with fewer workers the learning rate follows the samples seen,
// as it would have with all of them, and a run that never changes size counts exactly its steps.

// Note [what a resume needs]
// A checkpoint's step is a position in the data only for the world size and batches per epoch
// that wrote it: with another --workers or --batch the same step names other batches, and the
// resumed run would silently differ from the uninterrupted one. So fit() saves both beside the
// caller's configuration and refuses a resume that changed them. An elastic run saves its
// position as permutation positions (Note [an epoch is a range of permutation positions]), which
// mean the same for any number of workers: only the data set's size and the batch must match.
interface RunLayout {
  world_size?: number;
  batches_per_epoch?: number;
  samples_per_epoch?: number;
  batch_size?: number;
  position?: { epoch: number; sample: number; scheduleStep: number; baseWorld: number };
}

function checkLayout(path: string, saved: unknown, now: RunLayout): RunLayout {
  const run = (saved as { run?: RunLayout } | null)?.run;
  if (!run || (typeof run.world_size !== "number" && typeof run.samples_per_epoch !== "number")) {
    throw new RangeError(`fit: ${path} was not written by fit() (it has no run layout); resume only from checkpoints fit() wrote`);
  }
  if (now.samples_per_epoch !== undefined) {
    if (run.samples_per_epoch !== now.samples_per_epoch || run.batch_size !== now.batch_size || !run.position) {
      throw new RangeError(
        `fit: ${path} was ${run.position ? `written with ${run.samples_per_epoch} samples per epoch and batch ${run.batch_size}` : "not written by an elastic run"}, ` +
          `this elastic run has ${now.samples_per_epoch} and ${now.batch_size}; resume with the same data and batch size (any number of workers)`,
      );
    }
    return run;
  }
  // Another worker count is re-dealt in resumedPosition (Note [resuming on another worker count]).
  if (run.world_size === now.world_size && run.batches_per_epoch !== now.batches_per_epoch) {
    throw new RangeError(
      `fit: ${path} was written by ${run.world_size ?? "an elastic run of any number of"} rank(s) with ${run.batches_per_epoch ?? "?"} batches per epoch, this run has ` +
        `${now.world_size} with ${now.batches_per_epoch}; resume with the same number of workers and batch size`,
    );
  }
  return run;
}

// Note [resuming on another worker count]
// Each rank's batches are its stride of one seeded permutation per epoch (DistributedSampler), so
// after j steps of an epoch the W ranks together have taken its first j·W batches' worth of
// positions, whatever W. A run on W' ranks therefore continues at the same sample from step
// j·W / W' of the same epoch, when that is a whole number; otherwise the resume is refused, as it
// is when the epoch's length in batches of one rank does not match (another batch size). The
// schedule follows the new count's steps, the same fraction of the run. Sharded checkpoints are
// put together before set-up, so each strategy takes its part for the new count.
function resumedPosition(path: string, run: RunLayout, step: number, now: RunLayout, baseWorld: number): TrainingPosition {
  const [was, is] = [run.world_size!, now.world_size!];
  const position = (at: number): TrainingPosition => ({ step: at, epoch: Math.floor(at / now.batches_per_epoch!), sample: 0, scheduleStep: at, baseWorld, rng: [] });
  if (was === is) return position(step);
  const epochBatches = [run.batches_per_epoch! * was, now.batches_per_epoch! * is];
  if (Math.abs(epochBatches[0]! - epochBatches[1]!) > Math.max(was, is)) {
    throw new RangeError(`fit: ${path} was written with ${run.batches_per_epoch} batches per epoch on ${was} rank(s), which is not this run's batch size on ${is}; resume with the batch size it was written with`);
  }
  const epoch = Math.floor(step / run.batches_per_epoch!);
  const taken = (step - epoch * run.batches_per_epoch!) * was;
  if (taken % is !== 0) {
    throw new RangeError(`fit: ${path} is ${taken / was} steps into epoch ${epoch} on ${was} rank(s), which is no whole number of steps on ${is}; resume on ${was} ranks, or on a number that divides ${taken}`);
  }
  return { ...position(epoch * now.batches_per_epoch! + taken / is), epoch };
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false; // loadTrainingCheckpoint names the missing file
  }
}

function round2(ms: number): number {
  return Math.round(ms * 100) / 100;
}
