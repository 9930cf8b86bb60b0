// What `weft train --workers N` hands each worker (as one JSON argument), and the files the
// workers leave in the run folder for it.
import type { CheckpointPlan } from "../train/fit.js";
import type { RecipeSettings } from "../train/recipe.js";

export interface TrainJob {
  recipe: string;
  settings: RecipeSettings;
  strategy: string;
  strategyOptions: Record<string, string | number | boolean | undefined>;
  checkpoint?: CheckpointPlan;
  resumeFrom?: string;
}

/** Written by rank 0: the run's result. */
export const RESULT_FILE = "result.json";

/** Written by every rank: what its strategy reports (DDP: the parameter digest). */
export const reportFile = (rank: number): string => `report-${rank}.json`;
