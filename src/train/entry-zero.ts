// `--strategy zero --stage 1|2|3`: sharded data parallelism (ZeRO, FSDP), its options and checks.
import type { StrategyEntry } from "./strategy-entry.js";

export const ZERO_ENTRY: StrategyEntry = {
  name: "zero",
  summary: "sharded data parallelism (ZeRO / FSDP): --stage 1 shards the optimizer state, 2 also the gradients, 3 also the parameters",
  distributed: true,
  options: {
    stage: { type: "int", min: 1, max: 3, help: "zero: 1 shards optimizer state, 2 also gradients (reduce-scatter), 3 also parameters, gathered layer by layer (default 1)" },
  },
  create: () => {
    throw new Error("--strategy zero is being built");
  },
};
