// `weft train --max-memory BYTES`: the most each training worker may hold in parameters,
// gradients, optimizer state and activations. Checked twice:
//  1. here, in the command, before any worker starts: the recipe's model and optimizer are built
//     once (cheap next to training) for their facts, and the chosen strategy's plan
//     (train/memory-plan.ts) must fit, or the run is refused at once, in one line with exit
//     status 2, naming every strategy of the registry whose plan would fit on this many workers;
//  2. in every worker, after its first step (train/memory.ts, MemoryMeter): what it measured,
//     activations at their peak included, must fit, or it fails with a MemoryLimitError whose
//     one line names the strategies that would fit with those activations.
// The command is the place for the first check because it fails before processes, data and
// rendezvous cost anything; the second catches what no plan knows (activations, and what a
// strategy really keeps).
import type { Recipe, RecipeSettings } from "../train/recipe.js";
import { modelMemoryFacts, type MemoryLimit } from "../train/memory.js";
import { fitAdvice, leastPlan, planRefusal, strategiesThatFit } from "../train/memory-plan.js";
import { STRATEGIES, type StrategyEntry, type StrategyOptions } from "../train/strategies.js";
import { UsageError } from "./options.js";
import type { TrainJob } from "./train-job.js";

/** What `--max-memory` says about its values, in its help and in its usage error. */
export const MAX_MEMORY_FORMS = "bytes, or a number with K, M, G or T (powers of 1000) or KiB, MiB, GiB or TiB (powers of 1024), B optional: 500000000, 512M, 1.5G, 512KiB";

const POWERS: Record<string, number> = { "": 0, k: 1, m: 2, g: 3, t: 4 };

/**
 * Bytes from `--max-memory`'s text: a number, with a unit in powers of 1000 (K, M, G, T) or of
 * 1024 (KiB, MiB, GiB, TiB), case aside, "B" optional; undefined when it is not one, or below 1 byte.
 *
 * @example
 * ```ts
 * assert.equal(parseByteSize("64M"), 64e6);
 * assert.equal(parseByteSize("1.5G"), 1.5e9);
 * assert.equal(parseByteSize("512KiB"), 512 * 1024);
 * assert.equal(parseByteSize("2048"), 2048);
 * assert.equal(parseByteSize("12 parsecs"), undefined);
 * ```
 */
export function parseByteSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d*)?|\.\d+)\s*(?:([kmgt])(i)?)?(b)?$/i.exec(text.trim());
  if (!m) return undefined;
  const base = m[3] === undefined ? 1000 : 1024;
  const bytes = Math.floor(Number(m[1]) * base ** POWERS[(m[2] ?? "").toLowerCase()]!);
  return Number.isFinite(bytes) && bytes >= 1 ? bytes : undefined;
}

/** `--max-memory`'s bytes, or a one-line UsageError naming the forms it takes. */
export function maxMemoryBytes(text: string): number {
  const bytes = parseByteSize(text);
  if (bytes === undefined) throw new UsageError(`weft train: --max-memory must be a size per worker: ${MAX_MEMORY_FORMS}; got "${text}"`);
  return bytes;
}

const label = (text: string): string => `weft train: --max-memory ${text} per worker`;
const RAISE = "raise --max-memory";

/**
 * Check 1 (above): refuses with a one-line UsageError a run whose strategy's plan does not fit
 * `--max-memory` on this many workers.
 */
export function checkPlannedMemory(
  recipe: Recipe, settings: RecipeSettings, entry: StrategyEntry, options: StrategyOptions, workers: number, limit: { bytes: number; text: string },
): void {
  const model = recipe.model(settings);
  const facts = modelMemoryFacts(model, recipe.optimizer(model, settings), recipe.layers?.(model, settings) as Parameters<typeof modelMemoryFacts>[2]);
  const set = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const refusal = planRefusal(STRATEGIES, entry, set, facts, workers, limit.bytes, RAISE);
  if (refusal !== undefined) throw new UsageError(`${label(limit.text)}: ${refusal}`);
}

/** Check 2 (above): the limit a worker of `job` trains under, for fit. */
export function memoryLimitOf(job: TrainJob): MemoryLimit | undefined {
  const max = job.maxMemory;
  if (!max) return undefined;
  const own = { name: job.strategy, options: Object.fromEntries(Object.entries(job.strategyOptions).filter(([, v]) => v !== undefined)) };
  return {
    bytes: max.bytes,
    label: label(max.text),
    advise: (measured, facts) =>
      fitAdvice(strategiesThatFit(STRATEGIES, facts, job.workers, max.bytes, measured.activations_peak, own), leastPlan(STRATEGIES, facts, job.workers), job.workers, measured.activations_peak, RAISE),
  };
}
