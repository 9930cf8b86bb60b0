// The shape of an entry of the strategy registry (strategies.ts): what `--strategy <name>` is,
// the options it adds to `weft train`, how a worker makes it, and what the job adds to its result.
import type { ProcessGroup } from "../distributed/group/process-group.js";
import type { HeldMemory, Strategy } from "../distributed/strategies/strategy.js";
import type { CheckpointPlan } from "./fit.js";
import type { OptionTable } from "./option-spec.js";
import type { RecipeParts } from "./run-recipe.js";

export type StrategyOptions = Record<string, string | number | boolean | undefined>;
/** What one process reports at the end (report-<rank>.json): its strategy's report and its traffic. */
export type RankReport = Record<string, string | number | boolean>;

/** What a serving process is given: its group, the recipe's parts built as every rank builds them, and the run's checkpoint plan. */
export interface ServeInput {
  pg: ProcessGroup;
  options: StrategyOptions;
  /** Training workers in the job (ranks 0..workers-1). */
  workers: number;
  parts: RecipeParts;
  checkpoint?: CheckpointPlan | undefined;
  resumeFrom?: string | undefined;
}

/** What a memory plan is made from, before the first step (src/train/memory.ts). */
export interface ModelMemoryFacts {
  /** Bytes of the whole model's parameters (float32). */
  parameterBytes: number;
  /** Bytes of the whole optimizer state once it steps (e.g. Adam: twice the parameters). */
  optimizerBytes: number;
  /** Bytes of parameters in each layer of the recipe's layer stack, in order (absent when the recipe has none). */
  layerBytes?: readonly number[] | undefined;
}

export interface StrategyEntry {
  readonly name: string;
  readonly summary: string;
  /** Runs on more than one worker (and so needs a process group). */
  readonly distributed: boolean;
  readonly options: OptionTable;
  /** Why these options cannot work together, or with this many workers (a one-line usage error); undefined when they can. */
  check?(options: StrategyOptions, workers: number): string | undefined;
  /** Processes the job starts for `workers` training workers (default: just them). */
  processes?(options: StrategyOptions, workers: number): number;
  /** A training worker's strategy: `pg` spans every process of the job, `workers` of which train. */
  create(pg: ProcessGroup | undefined, options: StrategyOptions, workers: number): Strategy;
  /** Runs on the ranks from `workers` up instead of training, until the workers are done; returns this rank's report. */
  serve?(input: ServeInput): Promise<RankReport>;
  /**
   * Bytes each training worker would hold in parameters, gradients and optimizer state, for
   * `--max-memory` to refuse a run that cannot fit before it starts, and to say which strategy
   * would fit (default: a full replica of each).
   */
  plannedMemory?(facts: ModelMemoryFacts, options: StrategyOptions, workers: number): HeldMemory;
  /** Fields the whole job adds to the result, from every process's report (indexed by rank). */
  combine?(reports: readonly RankReport[], workers: number): RankReport;
}
