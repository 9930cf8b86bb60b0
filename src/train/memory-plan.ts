// Memory plans: what each training worker would hold in parameters, gradients and optimizer state
// under a strategy of the registry, before the first step, from the model's facts
// (memory.ts, modelMemoryFacts). `weft train --max-memory` refuses a run whose plan does not fit,
// naming the strategies whose plans do; after the first step the loop checks what was measured
// (memory.ts, MemoryMeter) and names them again with the measured activations added.
import type { HeldMemory } from "../distributed/strategies/strategy.js";
import { formatBytes, heldTotal } from "./memory.js";
import type { ModelMemoryFacts, StrategyEntry, StrategyOptions } from "./strategy-entry.js";

/**
 * A full replica: every parameter, a gradient for each, the optimizer's whole state. What
 * single, ddp, gossip and local SGD hold (their own communication buffers aside), and the plan of
 * an entry that declares none.
 *
 * @example Adam keeps two floats per parameter
 * ```ts
 * assert.deepEqual(replicaPlan({ parameterBytes: 100, optimizerBytes: 200 }), { parameters: 100, gradients: 100, optimizer: 200 });
 * ```
 */
export function replicaPlan(facts: ModelMemoryFacts): HeldMemory {
  return { parameters: facts.parameterBytes, gradients: facts.parameterBytes, optimizer: facts.optimizerBytes };
}

/** An entry's plan for these options and workers (its plannedMemory, or a full replica). */
export function plannedMemory(entry: StrategyEntry, facts: ModelMemoryFacts, options: StrategyOptions, workers: number): HeldMemory {
  return entry.plannedMemory?.(facts, options, workers) ?? replicaPlan(facts);
}

/** One way to train, as `weft train` spells it: a strategy with some of its options. */
export interface PlannedStrategy {
  /** "zero --stage 3". */
  readonly spelled: string;
  readonly plan: HeldMemory;
}

/** The strategy and options as flags: "zero --stage 3", "ddp --bucket-kb 64". */
export function spellStrategy(name: string, options: StrategyOptions): string {
  const flags = Object.entries(options).filter(([, v]) => v !== undefined && v !== false).map(([k, v]) => (v === true ? ` --${k}` : ` --${k} ${v}`));
  return `${name}${flags.join("")}`;
}

/**
 * The settings of `entry` worth planning: its defaults, then each value of each option whose
 * values are few (a choice, or an integer range of at most 8), one option at a time. A stage,
 * a schedule or a mode changes what a worker holds; counts with no upper bound keep their
 * defaults (which follow the worker count).
 */
function settingsOf(entry: StrategyEntry): StrategyOptions[] {
  const out: StrategyOptions[] = [{}];
  for (const [flag, spec] of Object.entries(entry.options)) {
    const s = spec as { type: string; choices?: readonly string[]; min?: number; max?: number };
    if (s.type === "choice" && s.choices) for (const c of s.choices) out.push({ [flag]: c });
    if (s.type === "int" && s.min !== undefined && s.max !== undefined && s.max - s.min < 8) {
      for (let n = s.min; n <= s.max; n++) out.push({ [flag]: n });
    }
  }
  return out;
}

/**
 * For every strategy of `entries` that can run on `workers` workers, its first setting (defaults
 * first) whose plan plus `extraBytes` (measured activations) fits in `limitBytes`, in registry
 * order; `except` (the run's own strategy) is left out.
 */
export function strategiesThatFit(
  entries: readonly StrategyEntry[], facts: ModelMemoryFacts, workers: number, limitBytes: number,
  extraBytes = 0, except?: { name: string; options: StrategyOptions },
): PlannedStrategy[] {
  const fits: PlannedStrategy[] = [];
  for (const entry of entries) {
    const fit = plansOf(entry, facts, workers).find((p) => heldTotal(p.plan) + extraBytes <= limitBytes &&
      !(except && p.spelled === spellStrategy(except.name, except.options)));
    if (fit) fits.push(fit);
  }
  return fits;
}

/** The plan that holds least of any strategy and setting that can run on `workers` workers. */
export function leastPlan(entries: readonly StrategyEntry[], facts: ModelMemoryFacts, workers: number): PlannedStrategy | undefined {
  const all = entries.flatMap((e) => plansOf(e, facts, workers));
  return all.reduce<PlannedStrategy | undefined>((best, p) => (best === undefined || heldTotal(p.plan) < heldTotal(best.plan) ? p : best), undefined);
}

function plansOf(entry: StrategyEntry, facts: ModelMemoryFacts, workers: number): PlannedStrategy[] {
  if (!entry.distributed && workers > 1) return [];
  const out: PlannedStrategy[] = [];
  for (const options of settingsOf(entry)) {
    if (entry.check?.(options, workers) !== undefined) continue;
    try {
      out.push({ spelled: spellStrategy(entry.name, options), plan: plannedMemory(entry, facts, options, workers) });
    } catch {
      // A plan that cannot be made for this model (a strategy needing the layer stack it lacks) is no candidate.
    }
  }
  return out;
}

/**
 * The end of a refusal: which strategies would fit ("zero --stage 3 (1.2 MB) or pipeline (2 MB)
 * would fit"), or, when none would, the least any needs.
 *
 * @example
 * ```ts
 * const plan = { parameters: 1e6, gradients: 0, optimizer: 0 };
 * assert.equal(fitAdvice([{ spelled: "zero --stage 3", plan }], undefined, 2, 0), "zero --stage 3 (1 MB) would fit");
 * assert.equal(fitAdvice([], { spelled: "zero --stage 3", plan }, 2, 0), "no strategy fits on 2 workers (the least is zero --stage 3 with 1 MB): raise the limit, or use more workers");
 * ```
 */
export function fitAdvice(fits: readonly PlannedStrategy[], least: PlannedStrategy | undefined, workers: number, extraBytes: number, raise = "raise the limit"): string {
  const each = fits.map((f) => `${f.spelled} (${formatBytes(heldTotal(f.plan) + extraBytes)})`);
  if (each.length > 0) return `${each.length > 1 ? `${each.slice(0, -1).join(", ")} or ${each.at(-1)!}` : each[0]!} would fit`;
  if (!least) return raise;
  return `no strategy fits on ${workers} worker${workers === 1 ? "" : "s"} (the least is ${least.spelled} with ${formatBytes(heldTotal(least.plan) + extraBytes)}): ${raise}, or use more workers`;
}

/**
 * Why the run cannot fit in `limitBytes` per worker before it starts, as the rest of a one-line
 * refusal ("ddp needs 412 MB (parameters 103 MB, ...); zero --stage 3 (103 MB) would fit"), or
 * undefined when its plan fits.
 */
export function planRefusal(
  entries: readonly StrategyEntry[], entry: StrategyEntry, options: StrategyOptions, facts: ModelMemoryFacts, workers: number, limitBytes: number, raise?: string,
): string | undefined {
  const plan = plannedMemory(entry, facts, options, workers);
  if (heldTotal(plan) <= limitBytes) return undefined;
  const own = { name: entry.name, options };
  const advice = fitAdvice(strategiesThatFit(entries, facts, workers, limitBytes, 0, own), leastPlan(entries, facts, workers), workers, 0, raise);
  return `${spellStrategy(entry.name, options)} needs ${formatBytes(heldTotal(plan))} (parameters ${formatBytes(plan.parameters)}, ` +
    `gradients ${formatBytes(plan.gradients)}, optimizer ${formatBytes(plan.optimizer)}, before activations); ${advice}`;
}
