// What a training worker holds in memory, by what it is for: parameters, gradients, optimizer
// state (a strategy's HeldMemory), the activations a step keeps for its backward (the tensor
// layer's count, Note [counting activation bytes] in tensor/activation-bytes.ts), and the
// process's resident size. fit() measures them with a MemoryMeter, reports them per step in the
// metrics stream and for the run in its result, and refuses to go on past a MemoryLimit.
//
// What a plan is made from before the first step (modelMemoryFacts) is here too; the plans
// themselves, which need the strategy registry, are in memory-plan.ts. (This file may not import
// strategy-entry.ts: that file imports the loop, which imports this one.)
import type { HeldMemory, Strategy } from "../distributed/strategies/strategy.js";
import type { LayerStack, Module } from "../nn/index.js";
import type { Optimizer } from "../optim/index.js";
import { activationPeak, forgetActivations } from "../tensor/index.js";

/** Bytes per parameter element: parameters, gradients and optimizer state are float32. */
const FLOAT_BYTES = 4;

/**
 * One worker's memory over a run, in bytes: the most it held at once in each of parameters,
 * gradients and optimizer state, the largest activation peak of any step, and the largest
 * resident size sampled at a step's end (the `memory` of the `--json` line).
 */
export interface MemoryReport extends HeldMemory {
  activations_peak: number;
  rss: number;
}

/**
 * What a replica holds: every parameter, the gradients present now (after a backward: one per
 * parameter that received one) and the optimizer's state buffers (none before its first step).
 * A strategy that holds less, or more, says so with its own memory() (strategies/strategy.ts).
 *
 * @example A linear layer under Adam, after one step
 * ```ts
 * import { Adam, Linear, mseLoss, tensor } from "weft"; // replicatedMemory: this module's
 * const model = new Linear(3, 2); // 6 weights + 2 biases
 * const optimizer = new Adam(model.parameters(), { lr: 0.1 });
 * assert.deepEqual(replicatedMemory(model, optimizer), { parameters: 32, gradients: 0, optimizer: 0 });
 * mseLoss(model.forward(tensor([1, 2, 3], [1, 3])), tensor([0, 0], [1, 2])).backward();
 * optimizer.step();
 * assert.deepEqual(replicatedMemory(model, optimizer), { parameters: 32, gradients: 32, optimizer: 64 });
 * ```
 */
export function replicatedMemory(model: Module, optimizer: Optimizer): HeldMemory {
  let parameters = 0, gradients = 0, state = 0;
  for (const p of model.parameters()) {
    parameters += p.size * FLOAT_BYTES;
    if (p.grad) gradients += p.grad.size * FLOAT_BYTES;
  }
  for (const b of Object.values(optimizer.stateDict().buffers)) state += b.byteLength;
  return { parameters, gradients, optimizer: state };
}

/**
 * What a memory plan is made from (the `ModelMemoryFacts` of strategy-entry.ts, the same shape):
 * the whole model's parameter bytes, its optimizer state once stepping (the optimizer's state
 * floats per element times the parameters it steps), and the parameter bytes of each layer of a
 * layer stack, given the stack or the numbers.
 *
 * @example The facts of a two-layer model under Adam
 * ```ts
 * import { Adam, Linear, ReLU, Sequential } from "weft"; // modelMemoryFacts: this module's
 * const model = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 1)); // 40 + 9 parameters
 * const facts = modelMemoryFacts(model, new Adam(model.parameters(), { lr: 0.01 }), [160, 0, 36]);
 * assert.deepEqual(facts, { parameterBytes: 196, optimizerBytes: 392, layerBytes: [160, 0, 36] });
 * ```
 */
export function modelMemoryFacts(
  model: Module, optimizer: Optimizer, layers?: LayerStack<unknown> | readonly number[],
): { parameterBytes: number; optimizerBytes: number; layerBytes?: readonly number[] } {
  const bytesOf = (m: Module): number => m.parameters().reduce((n, p) => n + p.size * FLOAT_BYTES, 0);
  const stepped = optimizer.params.reduce((n, p) => n + p.size, 0);
  const layerBytes = layers === undefined ? undefined : "layers" in layers ? layers.layers.map((l) => bytesOf(l.module)) : [...layers];
  return {
    parameterBytes: bytesOf(model),
    optimizerBytes: stepped * optimizer.stateFloatsPerElement() * FLOAT_BYTES,
    ...(layerBytes === undefined ? {} : { layerBytes }),
  };
}

/** Parameters, gradients and optimizer state together. */
export function heldTotal(m: HeldMemory): number {
  return m.parameters + m.gradients + m.optimizer;
}

/**
 * Bytes for a message, in powers of 1000 to three significant digits ("412 MB", "1.5 GB",
 * "900 kB"), as `--max-memory`'s K/M/G suffixes count.
 *
 * @example
 * ```ts
 * assert.equal(formatBytes(900136), "900 kB");
 * assert.equal(formatBytes(412e6), "412 MB");
 * assert.equal(formatBytes(1.5e9), "1.5 GB");
 * assert.equal(formatBytes(12), "12 bytes");
 * ```
 */
export function formatBytes(bytes: number): string {
  const units = ["kB", "MB", "GB", "TB", "PB"];
  if (bytes < 1000) return `${Math.round(bytes)} bytes`;
  let v = bytes / 1000, u = 0;
  while (v >= 999.5 && u < units.length - 1) (v /= 1000), u++;
  return `${Number(v.toPrecision(3))} ${units[u]}`;
}

/** The most a worker may hold, and how to say so when it holds more. */
export interface MemoryLimit {
  /** Bytes per worker, for parameters, gradients, optimizer state and activations together. */
  bytes: number;
  /** How the limit is named in the message (default "a memory limit of <bytes> per worker"). */
  label?: string;
  /**
   * What would fit instead (a clause for the message, e.g. "zero --stage 3 (1.2 MB) would fit"),
   * given what this worker measured and the model's facts; undefined when nothing is known to.
   */
  advise?(measured: MemoryReport, facts: ReturnType<typeof modelMemoryFacts>): string | undefined;
}

/** A worker holds more than its MemoryLimit allows. */
export class MemoryLimitError extends Error {
  override readonly name = "MemoryLimitError";
}

/**
 * Measures one worker's memory step by step for fit(). A step's activations are its own: the
 * count starts a new generation at each step's start (Note [counting activation bytes]), and its
 * peak is read at the step's end. The held bytes are the strategy's memory() (a peak since set-up)
 * or, without one, what a replica holds at the step's end (gradients and optimizer state are all
 * there then); the resident size is sampled at the step's end too. Every number of the report is
 * the largest seen over the run.
 */
export class MemoryMeter {
  private held: HeldMemory = { parameters: 0, gradients: 0, optimizer: 0 };
  private activations = 0;
  private rss = 0;
  private checked = false;

  constructor(
    private readonly model: Module,
    private readonly optimizer: Optimizer,
    private readonly limit?: MemoryLimit,
    private readonly layers?: LayerStack<unknown>,
  ) {}

  /** Before a step runs. */
  stepStarted(): void {
    forgetActivations();
  }

  /**
   * After a step ran on `strategy`: samples this step and returns its fields of the metrics line
   * (`mem_activations_peak`, `mem_rss`: this step's own). After the first step, throws a
   * MemoryLimitError if the worker holds more than the limit (activations at their peak included).
   */
  stepEnded(strategy: Strategy, step: number): { mem_activations_peak: number; mem_rss: number } {
    const peak = activationPeak();
    const rss = process.memoryUsage.rss();
    const held = strategy.memory?.() ?? replicatedMemory(this.model, this.optimizer);
    this.held = {
      parameters: Math.max(this.held.parameters, held.parameters),
      gradients: Math.max(this.held.gradients, held.gradients),
      optimizer: Math.max(this.held.optimizer, held.optimizer),
    };
    this.activations = Math.max(this.activations, peak);
    this.rss = Math.max(this.rss, rss);
    if (this.limit && !this.checked) {
      this.checked = true;
      this.check(this.limit, strategy.rank, step);
    }
    return { mem_activations_peak: peak, mem_rss: rss };
  }

  /** The run so far (zeros before the first step). */
  report(): MemoryReport {
    return { ...this.held, activations_peak: this.activations, rss: this.rss };
  }

  private check(limit: MemoryLimit, rank: number, step: number): void {
    const m = this.report();
    const total = heldTotal(m) + m.activations_peak;
    if (total <= limit.bytes) return;
    const label = limit.label ?? `a memory limit of ${formatBytes(limit.bytes)} per worker`;
    const advice = limit.advise?.(m, modelMemoryFacts(this.model, this.optimizer, this.layers));
    throw new MemoryLimitError(
      `${label}: rank ${rank} held ${formatBytes(total)} at step ${step} (parameters ${formatBytes(m.parameters)}, gradients ${formatBytes(m.gradients)}, ` +
        `optimizer ${formatBytes(m.optimizer)}, activations ${formatBytes(m.activations_peak)} at their peak; resident ${formatBytes(m.rss)} in all)` +
        `; ${advice ?? "raise the limit, or train a smaller model or batch"}`,
    );
  }
}
