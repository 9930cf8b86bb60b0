// `--strategy tensor --tp T [--dp D]`: Megatron-style tensor parallelism inside groups of T
// workers, data parallel across D such groups (distributed/strategies/tensor-parallel.ts). What
// the model must allow (T dividing its heads and width) is checked when the recipe's
// tensor-parallel form is built, on the workers: the registry does not know the model.
import { TensorParallelStrategy } from "../distributed/strategies/tensor-parallel.js";
import type { StrategyEntry, StrategyOptions } from "./strategy-entry.js";

/** --tp and --dp as given or defaulted: T × D = workers when they fit (check() says when they do not). */
function degrees(o: StrategyOptions, workers: number): { tp: number; dp: number } {
  const tp = o.tp as number | undefined;
  const dp = o.dp as number | undefined;
  if (tp !== undefined) return { tp, dp: dp ?? Math.max(1, Math.floor(workers / tp)) };
  const d = dp ?? 1;
  return { tp: Math.max(1, Math.floor(workers / d)), dp: d };
}

export const TENSOR_ENTRY: StrategyEntry = {
  name: "tensor",
  summary: "tensor parallelism (Megatron-LM): column- and row-parallel layers, attention heads and the vocabulary split across --tp T workers, data parallel across --dp D groups",
  distributed: true,
  options: {
    tp: { type: "int", min: 1, help: "tensor: workers that split each layer; must divide the heads and the hidden size (default: --workers / --dp)" },
    dp: { type: "int", min: 1, help: "pipeline, tensor: data-parallel replicas of the model-parallel group; --workers = model-parallel degree x --dp (default 1)" },
  },
  check: (o, workers) => {
    const tp = o.tp as number | undefined;
    const dp = o.dp as number | undefined;
    if (tp !== undefined && dp !== undefined && tp * dp !== workers) return `--tp ${tp} × --dp ${dp} is ${tp * dp} workers, not --workers ${workers}: make --workers their product, or drop --dp`;
    if (tp !== undefined && workers % tp !== 0) return `--tp ${tp} does not divide --workers ${workers}: use a --workers that is a multiple of ${tp}, or a --tp that divides ${workers}`;
    if (dp !== undefined && workers % dp !== 0) return `--dp ${dp} does not divide --workers ${workers}: use a --workers that is a multiple of ${dp}, or a --dp that divides ${workers}`;
    return undefined;
  },
  create: (pg, o, workers) => {
    if (!pg) throw new Error("the tensor strategy needs a process group: run it under weft launch (weft train --workers N does)");
    return new TensorParallelStrategy(pg, degrees(o, workers));
  },
  // Each rank holds 1/T of the split parameters, their gradients and their optimizer state. The
  // replicated tensors (layer norms, the position table, row-parallel biases: about 2% of
  // TinyGpt's defaults) are held whole on every rank and not known here, so this is a little low.
  plannedMemory: (facts, o, workers) => {
    const { tp } = degrees(o, workers);
    const share = (bytes: number): number => Math.ceil(bytes / tp);
    return { parameters: share(facts.parameterBytes), gradients: share(facts.parameterBytes), optimizer: share(facts.optimizerBytes) };
  },
  // finish() puts the model together on every rank: the digests must agree.
  combine: (reports, workers) => ({
    replicas_identical: reports.slice(0, workers).every((r) => typeof r.digest === "string" && r.digest !== "" && r.digest === reports[0]!.digest),
  }),
};
