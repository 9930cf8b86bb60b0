// Megatron-LM's two autograd operators (Shoeybi et al. 2019, section 3; megatron/core/
// tensor_parallel/mappings.py), which are all the communication tensor parallelism needs:
//
//   f  copyToTensorParallel     forward: identity          backward: all-reduce (sum) of the gradient
//   g  reduceFromTensorParallel forward: all-reduce (sum)  backward: identity
//
// A column-parallel layer reads a replicated input through f: each rank's slice of the weight
// sends back its own part of the input's gradient, and the sum over the ranks is the whole one.
// A row-parallel layer's partial products go through g: their sum is the layer's output, and the
// gradient of a sum reaches every term unchanged.
//
// Both communicate inside forward or backward, and backward (tensor/autograd.ts) is a plain
// synchronous loop, so they use the group's inline all-reduce (Note [inline all-reduce] in
// group/process-group.ts): through shared memory, or on one rank. Every rank of the group runs the
// same ops in the same order, so their all-reduces meet.
//
// Note [replicas stay bitwise equal across the group]
// The shared-memory all-reduce sums in rank order on every rank, so each rank of the group gets
// the same bits from it. Everything computed from replicated values and all-reduce results (the
// residual stream, the layer norms, the loss) is therefore bitwise equal on every rank, forward
// and backward, and so are the gradients of the replicated parameters (layer norms, the position
// table, row-parallel biases): the ranks step them identically without communicating them.
import { accumulateGrad, fromOp, type Tensor } from "../../tensor/tensor.js";
import type { ProcessGroup } from "../group/process-group.js";

/** A tensor-parallel group and the time its inline all-reduces took (they block: all of it is waiting). */
export class TensorParallelComm {
  /** Milliseconds spent in all-reduces so far, and how many there were. */
  ms = 0;
  calls = 0;

  constructor(readonly group: ProcessGroup) {}

  get rank(): number {
    return this.group.rank;
  }

  get size(): number {
    return this.group.worldSize;
  }

  /** Sums `buffer` over the group in place; done when it returns. */
  allReduce(buffer: Float32Array): void {
    if (this.group.worldSize === 1) return;
    const t0 = performance.now();
    this.group.allReduceInline(buffer);
    this.ms += performance.now() - t0;
    this.calls++;
  }
}

/**
 * f: the identity forward; the gradient is summed over the group in backward.
 *
 * @example On a group of one, f and g change nothing
 * ```ts
 * import { initProcessGroup, tensor } from "weft";
 * const comm = new TensorParallelComm(await initProcessGroup());   // rank 0 of 1
 * const x = tensor([1, 2, 3], [3], { requiresGrad: true });
 * const y = reduceFromTensorParallel(copyToTensorParallel(x, comm), comm);
 * assert.deepEqual(y.toArray(), [1, 2, 3]);
 * ```
 */
export function copyToTensorParallel(x: Tensor, comm: TensorParallelComm): Tensor {
  if (comm.size === 1) return x;
  return fromOp("copyToTensorParallel", x.dense(), x.shape, [x], (g) => {
    const summed = g.slice(); // g may be borrowed (Note in tensor.ts accumulateGrad): reduce a copy
    comm.allReduce(summed);
    accumulateGrad(x, summed, true);
  });
}

/** g: the sum over the group forward; the gradient passes through unchanged. */
export function reduceFromTensorParallel(x: Tensor, comm: TensorParallelComm): Tensor {
  if (comm.size === 1) return x;
  const summed = x.dense().slice();
  comm.allReduce(summed);
  return fromOp("reduceFromTensorParallel", summed, x.shape, [x], (g) => accumulateGrad(x, g, false));
}
