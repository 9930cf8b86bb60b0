// `--strategy pipeline --stages S --micro-batches M --schedule gpipe|1f1b [--dp D]`: the model's
// layer stack cut into S stages on S workers, micro-batches flowing through them.
import type { StrategyEntry } from "./strategy-entry.js";

export const PIPELINE_ENTRY: StrategyEntry = {
  name: "pipeline",
  summary: "pipeline parallelism: the model's layers cut into --stages S stages, --micro-batches M flowing through them (--schedule gpipe|1f1b), data parallel across --dp D pipelines",
  distributed: true,
  options: {
    stages: { type: "int", min: 1, help: "pipeline: stages, each on its own worker (default: --workers / --dp)" },
    "micro-batches": { type: "int", min: 1, help: "pipeline: micro-batches per step; must divide --batch (default 4)" },
    schedule: { type: "choice", choices: ["gpipe", "1f1b"], help: "pipeline: gpipe (all forwards, then all backwards) or 1f1b (one forward, one backward: less activation memory) (default 1f1b)" },
    split: { type: "string", help: "pipeline: the first layer of each stage after the first, e.g. 3,6 (default: balanced by each layer's measured cost)" },
    dp: { type: "int", min: 1, help: "pipeline, tensor: data-parallel replicas of the model-parallel group; --workers = model-parallel degree x --dp (default 1)" },
  },
  create: () => {
    throw new Error("--strategy pipeline is being built");
  },
};
