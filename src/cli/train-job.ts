// What `weft train --workers N` hands each worker (as one JSON argument), and the files the
// workers leave in the run folder for it.
import type { CheckpointFolderPlan, CheckpointPlan } from "../train/fit.js";
import type { RecipeSettings } from "../train/recipe.js";
import type { MemoryReport } from "../train/memory.js";
import type { Precision } from "../tensor/index.js";

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
  /** --max-memory: bytes per worker, and the flag's text for messages (train-memory.ts). */
  maxMemory?: { bytes: number; text: string };
  /** --precision, as weft train resolved it for this machine (precision-flag.ts). */
  precision?: Precision;
}

/** Written by rank 0: the run's result. */
export const RESULT_FILE = "result.json";

/**
 * Written by every rank: what its strategy reports (DDP: the parameter digest), its bytes_sent /
 * bytes_received, and a training worker's memory as mem_<field> (memoryReportFields).
 */
export const reportFile = (rank: number | string): string => `report-${rank}.json`;

/** The fields of a memory report, flat for a report file (mem_parameters, ...). */
export function memoryReportFields(m: MemoryReport): Record<string, number> {
  return {
    mem_parameters: m.parameters, mem_gradients: m.gradients, mem_optimizer: m.optimizer,
    mem_activations_peak: m.activations_peak, mem_rss: m.rss,
  };
}

/** The job's memory: the largest of its training workers' reports, field by field. */
export function largestMemory(reports: readonly Record<string, unknown>[]): MemoryReport {
  const most = (key: string): number => Math.max(0, ...reports.map((r) => Number(r[`mem_${key}`] ?? 0)));
  return { parameters: most("parameters"), gradients: most("gradients"), optimizer: most("optimizer"), activations_peak: most("activations_peak"), rss: most("rss") };
}
