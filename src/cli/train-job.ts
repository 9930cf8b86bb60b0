// What `weft train --workers N` hands each worker (as one JSON argument), and the files the
// workers leave in the run folder for it.
import type { CheckpointFolderPlan, CheckpointPlan } from "../train/fit.js";
import type { RecipeSettings } from "../train/recipe.js";

export interface TrainJob {
  recipe: string;
  settings: RecipeSettings;
  strategy: string;
  strategyOptions: Record<string, string | number | boolean | undefined>;
  /** Training workers (ranks 0..workers-1); a strategy with servers starts more processes. */
  workers: number;
  /** Evaluate every this many epochs into the metrics stream. */
  evaluateEvery?: number;
  /** One worker made slower on purpose: which, and how many times. */
  slow?: { rank: number; factor: number };
  /** A checkpoint folder (--checkpoint-dir) or one file (--checkpoint). */
  checkpoint?: CheckpointPlan | CheckpointFolderPlan;
  /** With --resume: the folder or file the checkpoints go to, resumed from. */
  resumeFrom?: string;
  /** An elastic job (--min/--max): the fewest and most workers, and how many replacements the launcher may start. */
  elastic?: { min: number; max: number; maxRestarts: number };
}

/** Written by rank 0: the run's result. */
export const RESULT_FILE = "result.json";

/** Written by every rank: what its strategy reports (DDP: the parameter digest) and its bytes_sent / bytes_received. */
export const reportFile = (rank: number | string): string => `report-${rank}.json`;
