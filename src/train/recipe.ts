// A recipe is data plus a few functions: which data set, model, loss, metric, optimizer and
// schedule, with their defaults and the options it adds to `weft train <recipe>`. The loop
// (run-recipe.ts) does everything else, the same way for every recipe and every strategy.
import type { Collate, Dataset } from "../data/index.js";
import type { LayerStack, Module } from "../nn/index.js";
import type { Optimizer } from "../optim/index.js";
import type { Tensor } from "../tensor/index.js";
import type { OptionTable } from "./option-spec.js";
import type { ProcessGroup } from "../distributed/group/process-group.js";
import type { TensorParallelModel } from "../distributed/tensor-parallel/tensor-parallel-model.js";

/** The budget every recipe shares (`--epochs`, `--max-steps`, `--seed`, `--batch`, `--lr`). */
export interface RecipeBudget {
  epochs: number;
  /** Stop after this many steps in all (default: epochs × batches per epoch). */
  maxSteps?: number;
  seed: number;
  /** Batch size per worker. */
  batch: number;
  /** Peak learning rate. */
  lr: number;
}

/** The budget and the recipe's own options, as parsed. */
export interface RecipeSettings extends RecipeBudget {
  options: Record<string, string | number | boolean | undefined>;
}

export interface RecipeData<S, B> {
  /** What is trained on; each rank takes its share through a DistributedSampler. */
  train: Dataset<S>;
  /** Builds a batch (and augments it) from samples. */
  collate: Collate<S, B>;
}

export interface Recipe<S = unknown, B = unknown> {
  /** What `weft train` takes ("mnist"). */
  readonly name: string;
  /** One line for `weft train --list`. */
  readonly summary: string;
  /** The budget a plain `weft train <name>` runs with. */
  readonly defaults: Omit<RecipeBudget, "maxSteps">;
  /** The recipe's own options, beyond the shared budget (names must not clash with the shared ones). */
  readonly options: OptionTable;
  /** The number the recipe is judged by, reported as `metric`/`value` and under its own name. */
  readonly metric: { name: string; higherIsBetter: boolean };
  data(settings: RecipeSettings): RecipeData<S, B>;
  model(settings: RecipeSettings): Module;
  loss(model: Module, batch: B): Tensor;
  /**
   * The model as a stack of layers (nn/layer-stack.ts), for the strategies that cut it across
   * workers (pipeline stages, ZeRO stage 3). Running the stack must compute `loss`. A recipe
   * without it trains under every strategy but those.
   */
  layers?(model: Module, settings: RecipeSettings): LayerStack<B>;
  /**
   * The model split across the ranks of `group` by tensor parallelism (`--strategy tensor`), built
   * from `model`'s parameters, so every rank starts where single-process training does; its loss
   * must compute `loss` (TinyGpt: tensorParallelGpt in distributed/tensor-parallel/). A recipe
   * without it trains under every strategy but that one.
   */
  tensorParallel?(model: Module, settings: RecipeSettings, group: ProcessGroup): TensorParallelModel<B>;
  samplesIn(batch: B): number;
  optimizer(model: Module, settings: RecipeSettings): Optimizer;
  /** Learning rate at each step of a run of `totalSteps` steps. */
  schedule(settings: RecipeSettings, totalSteps: number): (step: number) => number;
  /** After training: the metric (and any others) on held-out data. */
  evaluate(model: Module, settings: RecipeSettings): Record<string, number>;
  /**
   * For a recipe whose model writes text (gpt-text): continues `request.prompt` by
   * `request.count` characters. `weft generate CHECKPOINT` rebuilds the model from a checkpoint
   * of the recipe and calls this.
   */
  generate?(model: Module, settings: RecipeSettings, request: GenerateRequest): string;
}

/** What `weft generate` asks a recipe's model to write. */
export interface GenerateRequest {
  prompt: string;
  /** Characters to write after the prompt. */
  count: number;
  /** 0 takes the likeliest character each time; above 0 samples from softmax(logits / temperature). */
  temperature: number;
  /** Seeds the sampling, so a sample is reproducible. */
  seed: number;
}

/**
 * Declares a recipe. Its sample and batch types stay inside it: the loop only hands what one of
 * the recipe's functions returned to another of the same recipe, so the registry may hold
 * recipes of different types side by side.
 */
export function defineRecipe<S, B>(recipe: Recipe<S, B>): Recipe {
  return recipe as unknown as Recipe;
}
