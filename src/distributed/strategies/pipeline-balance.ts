// Where a pipeline cuts the layer stack: an explicit `--split` (the first layer of each stage after
// the first), or the cut that balances the stages' costs.
//
// Note [balancing by measured time]
// A pipeline runs at the pace of its slowest stage, so the cut should even out time, not
// parameters: in the MNIST CNN the first convolution has 320 parameters and costs more than the
// 205k-parameter linear layer, and parameter counts would put nearly all of the work on stage 0.
// So without --split, rank 0 times a forward and a backward of each layer on the first
// micro-batch of the first step (twice, keeping the second: the first pays for warm-up), finds
// the contiguous cut whose most expensive stage is cheapest, and broadcasts it, so every rank
// uses the same cut whatever its own clock said. The time of sending activations between stages
// is left out: it is the same few hundred microseconds wherever the cut falls in a stack whose
// layers keep the activation's size. Parameter counts are the fallback only where nothing can be
// timed: the memory plan of `weft train --max-memory`, made before any batch exists.
import type { LayerStack } from "../../nn/index.js";
import { Tensor } from "../../tensor/index.js";

/**
 * The first layer of each of `stages` stages (`[0, ...]`) that makes the costliest stage as cheap
 * as possible, each stage at least one layer; of equally good cuts, the earliest.
 *
 * @example
 * ```ts
 * assert.deepEqual(balanceStages([1, 1, 1, 1, 4], 2), [0, 4]);
 * assert.deepEqual(balanceStages([2, 2, 2, 2], 2), [0, 2]);
 * assert.deepEqual(balanceStages([5, 0, 0, 1, 1, 1, 1, 1], 2), [0, 1]); // free layers go to the later stage
 * ```
 */
export function balanceStages(costs: readonly number[], stages: number): number[] {
  const n = costs.length;
  if (stages < 1 || stages > n) throw new RangeError(`balanceStages: ${stages} stages for ${n} layers; each stage needs at least one layer`);
  const prefix = [0];
  for (const c of costs) prefix.push(prefix[prefix.length - 1]! + Math.max(0, c));
  const sum = (a: number, b: number): number => prefix[b]! - prefix[a]!;
  // best[k][j]: the least possible costliest stage for layers [0, j) cut into k stages; from[k][j] its last cut.
  const best = Array.from({ length: stages + 1 }, () => new Array<number>(n + 1).fill(Infinity));
  const from = Array.from({ length: stages + 1 }, () => new Array<number>(n + 1).fill(0));
  best[0]![0] = 0;
  for (let k = 1; k <= stages; k++) {
    for (let j = k; j <= n; j++) {
      for (let i = k - 1; i < j; i++) {
        const worst = Math.max(best[k - 1]![i]!, sum(i, j));
        if (worst < best[k]![j]!) {
          best[k]![j] = worst;
          from[k]![j] = i;
        }
      }
    }
  }
  const starts = new Array<number>(stages);
  for (let k = stages, j = n; k >= 1; k--) {
    starts[k - 1] = from[k]![j]!;
    j = from[k]![j]!;
  }
  return starts;
}

/**
 * The stage starts `[0, ...split]` that `--split` gives for a stack of `layers` layers and
 * `stages` stages, or a one-line RangeError naming what to change.
 *
 * @example
 * ```ts
 * assert.deepEqual(splitStarts([3, 6], 10, 3), [0, 3, 6]);
 * assert.throws(() => splitStarts([3, 6], 10, 2), /--split 3,6 cuts the model into 3 stages, but --stages is 2/);
 * ```
 */
export function splitStarts(split: readonly number[], layers: number, stages: number): number[] {
  if (split.length !== stages - 1) {
    throw new RangeError(`pipeline: --split ${split.join(",")} cuts the model into ${split.length + 1} stages, but --stages is ${stages}: give ${stages - 1} layer index(es), or change --stages`);
  }
  let previous = 0;
  for (const at of split) {
    if (!Number.isInteger(at) || at <= previous || at >= layers) {
      throw new RangeError(`pipeline: --split ${split.join(",")} must rise strictly between 1 and ${layers - 1} (the model has ${layers} layers, 0..${layers - 1}); ${at} does not`);
    }
    previous = at;
  }
  return [0, ...split];
}

/**
 * Parses `--split` ("3,6") into layer indices, or a one-line problem; the layer count is checked
 * later, against the recipe's stack (splitStarts).
 *
 * @example
 * ```ts
 * assert.deepEqual(parseSplit("3,6"), [3, 6]);
 * assert.match(parseSplit("3,x") as string, /--split 3,x/);
 * ```
 */
export function parseSplit(text: string): number[] | string {
  const parts = text.split(",").map((p) => p.trim());
  const values = parts.map(Number);
  if (parts.some((p) => !/^\d+$/.test(p)) || values.some((v, i) => i > 0 && v <= values[i - 1]!) || values[0] === 0) {
    return `--split ${text} must be rising layer indices above 0, separated by commas (the first layer of each stage after the first), e.g. --split 3,6`;
  }
  return values;
}

/**
 * Milliseconds of a forward plus a backward of each layer of `stack` on `batch` (Note [balancing
 * by measured time]), each layer on a detached copy of its input, as a pipeline stage runs it.
 * Leaves no gradients behind on the stack's parameters, and the model's buffers (running
 * statistics) as they were.
 */
export function measureLayerCosts<B>(stack: LayerStack<B>, batch: B, repeats = 2): number[] {
  const params = stack.layers.flatMap((l) => l.module.parameters());
  const buffers = stack.layers.flatMap((l) => l.module.namedBuffers().map(([, t]) => t));
  const saved = buffers.map((t) => t.dense().slice());
  let costs: number[] = [];
  for (let r = 0; r < repeats; r++) {
    costs = stack.layers.map(() => 0);
    const inputs: (Tensor | undefined)[] = [];
    const outputs: Tensor[] = [];
    let x: Tensor | undefined;
    stack.layers.forEach((layer, i) => {
      const input = x && new Tensor(x.dense().slice(), x.shape, undefined, 0, true);
      const t = performance.now();
      x = layer.forward(input, batch);
      costs[i]! += performance.now() - t;
      inputs.push(input);
      outputs.push(x);
    });
    const last = stack.layers.length - 1;
    let t = performance.now();
    const loss = stack.loss(outputs[last]!, batch);
    if (loss.requiresGrad) loss.backward();
    costs[last]! += performance.now() - t;
    for (let i = last - 1; i >= 0; i--) {
      const grad = inputs[i + 1]?.grad;
      t = performance.now();
      if (grad && outputs[i]!.requiresGrad) outputs[i]!.backward(grad);
      costs[i]! += performance.now() - t;
    }
  }
  for (const p of params) p.grad = null;
  buffers.forEach((t, i) => t.data.set(saved[i]!, t.offset));
  return costs;
}
