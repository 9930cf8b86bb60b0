// What a tensor-parallel form of a model is, as the strategy (strategies/tensor-parallel.ts) and a
// recipe (Recipe.tensorParallel) see it: this rank's module, its loss, and for every parameter
// where it lies in the full model the recipe built. The strategy needs nothing else: it steps the
// module's parameters, describes each as a slice of the full tensor for a sharded checkpoint, and
// writes the gathered slices back into the full model after the last step.
import type { Module } from "../../nn/index.js";
import type { Tensor } from "../../tensor/index.js";

/** Where a tensor-parallel rank's slice lies in the full tensor: the range [start, end) along `dim` of the full tensor seen as `shape`. */
export interface SplitPlacement {
  /**
   * The full tensor's shape as the split sees it: its own shape, or the same elements in row-major
   * order under another shape (Note [qkv as three blocks] in column-parallel-linear.ts).
   */
  readonly shape: readonly number[];
  readonly dim: number;
  readonly start: number;
  readonly end: number;
}

/** One parameter of a tensor-parallel module and the full model's tensor it stands for. */
export interface ShardedParameter {
  /** Its name in the full model, which the rank's module uses too ("blocks.0.attn.qkv.weight"). */
  readonly name: string;
  /** The full model's parameter. */
  readonly full: Tensor;
  /** This rank's parameter: `full` itself when replicated, else a tensor of the slice's own. */
  readonly local: Tensor;
  /** Absent: replicated, every rank of the group holds it whole (and trains it identically). */
  readonly split?: SplitPlacement;
}

/** A model as one rank of a tensor-parallel group trains it. */
export interface TensorParallelModel<B = unknown> {
  /** This rank's module; its named parameters are the `parameters`' locals, under the same names. */
  readonly model: Module;
  /** The loss of a batch, computed by every rank of the group together (the same value on each). */
  loss(batch: B): Tensor;
  /** Every parameter of `model`, in its order, with where it lies in the full model. */
  readonly parameters: readonly ShardedParameter[];
  /** Milliseconds the group's all-reduces inside forward and backward have taken so far (they block), when the form counts them. */
  readonly comm?: { readonly ms: number };
}
