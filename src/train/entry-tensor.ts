// `--strategy tensor --tp T [--dp D]`: Megatron-style tensor parallelism inside groups of T
// workers, data parallel across D such groups.
import type { StrategyEntry } from "./strategy-entry.js";

export const TENSOR_ENTRY: StrategyEntry = {
  name: "tensor",
  summary: "tensor parallelism (Megatron-LM): column- and row-parallel layers, attention heads and the vocabulary split across --tp T workers, data parallel across --dp D groups",
  distributed: true,
  options: {
    tp: { type: "int", min: 1, help: "tensor: workers that split each layer; must divide the heads and the hidden size (default: --workers / --dp)" },
    dp: { type: "int", min: 1, help: "pipeline, tensor: data-parallel replicas of the model-parallel group; --workers = model-parallel degree x --dp (default 1)" },
  },
  create: () => {
    throw new Error("--strategy tensor is being built");
  },
};
