// How many bytes the autograd graph holds right now, and the most it held since the peak was last
// reset: the activations a training step keeps for its backward, which `weft train` reports as
// `memory.activations_peak` (src/train/memory.ts).
//
// Note [counting activation bytes]
// Every op output that records a backward (fromOp in tensor.ts) adds the bytes of its elements;
// views (viewOf) share their base's storage and add nothing. Backward drops each node's gradFn
// once it has run (Note [freeing the graph] in autograd.ts) and subtracts the node's bytes there,
// so the count rises through forward, peaks at its end and falls back to zero as backward
// proceeds. What is counted is the op outputs, not the buffers each backward closure saves:
// most closures save exactly their inputs, which are the outputs of earlier ops, so the two
// agree up to the batch itself (a leaf, not counted) and the few ops that save a mask or an
// index (dropout, max-pool, cross-entropy), whose extras we leave out.
//
// A graph dropped without backward (a forward whose loss was thrown away, a step that failed
// half-way) would keep its bytes in the count for ever. We do not track the tensors' lives
// (a FinalizationRegistry per op output costs an allocation on the hot path and reports only
// when the collector gets round to it, which would make one step's peak depend on when the
// previous step's garbage was collected). Instead the count has generations:
// forgetActivations() starts a new one at zero, and a node recorded in an earlier generation
// subtracts nothing when its backward runs, so the count never goes below zero. The training
// loop forgets at the start of every step (train/memory.ts, MemoryMeter): a step's graph lives
// within its step. Code that runs its own loop and wants the count should do the same.

let heldBytes = 0;
let peakBytes = 0;
let generation = 0;

/** What the count needs of a graph node; every Tensor has these fields. */
export interface ActivationNode {
  /** @internal Bytes this node added to the count, 0 when it added none or they were taken back. */
  heldBytes: number;
  /** @internal The generation the bytes were added in (Note [counting activation bytes]). */
  heldGeneration: number;
}

/**
 * Bytes of op outputs the autograd graph holds now (Note [counting activation bytes]).
 *
 * @example A product's output counts until backward frees it
 * ```ts
 * import { activationBytes, forgetActivations, mul, sum, tensor } from "weft";
 * forgetActivations();
 * const x = tensor([1, 2, 3], [3], { requiresGrad: true });
 * const loss = sum(mul(x, x)); // 3 floats, then 1
 * assert.equal(activationBytes(), 16);
 * loss.backward();
 * assert.equal(activationBytes(), 0);
 * ```
 */
export function activationBytes(): number {
  return heldBytes;
}

/**
 * The most bytes activationBytes() reached since resetActivationPeak() or forgetActivations().
 *
 * @example The peak is the end of forward
 * ```ts
 * import { activationPeak, forgetActivations, relu, sum, tensor } from "weft";
 * forgetActivations();
 * const x = tensor([-1, 2], [2], { requiresGrad: true });
 * sum(relu(x)).backward(); // 2 floats, then 1
 * assert.equal(activationPeak(), 12);
 * ```
 */
export function activationPeak(): number {
  return peakBytes;
}

/**
 * Restarts the peak from what the graph holds now.
 *
 * @example
 * ```ts
 * import { activationBytes, activationPeak, resetActivationPeak } from "weft";
 * resetActivationPeak();
 * assert.equal(activationPeak(), activationBytes());
 * ```
 */
export function resetActivationPeak(): void {
  peakBytes = heldBytes;
}

/**
 * Starts the count afresh at zero, peak included: graphs recorded before no longer count, and
 * running their backward later takes nothing off (Note [counting activation bytes]). The
 * training loop calls it at the start of every step.
 *
 * @example A graph dropped without backward is forgotten
 * ```ts
 * import { activationBytes, exp, forgetActivations, tensor } from "weft";
 * const x = tensor([1, 2], [2], { requiresGrad: true });
 * exp(x); // never backward
 * forgetActivations();
 * assert.equal(activationBytes(), 0);
 * ```
 */
export function forgetActivations(): void {
  generation++;
  heldBytes = 0;
  peakBytes = 0;
}

/** @internal fromOp: `node` now holds `bytes` for its backward. */
export function recordActivation(node: ActivationNode, bytes: number): void {
  node.heldBytes = bytes;
  node.heldGeneration = generation;
  heldBytes += bytes;
  if (heldBytes > peakBytes) peakBytes = heldBytes;
}

/** @internal runBackward: `node`'s backward has run and its gradFn is gone. */
export function releaseActivation(node: ActivationNode): void {
  if (node.heldBytes === 0) return;
  if (node.heldGeneration === generation) heldBytes -= node.heldBytes;
  node.heldBytes = 0;
}
