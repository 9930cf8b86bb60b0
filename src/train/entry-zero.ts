// `--strategy zero --stage 1|2|3`: sharded data parallelism (ZeRO, FSDP), its options, checks and
// memory plan.
import { ZeroStrategy, type ZeroStage } from "../distributed/strategies/zero.js";
import type { StrategyEntry } from "./strategy-entry.js";

const stageOf = (o: Record<string, unknown>): ZeroStage => ((o.stage as ZeroStage | undefined) ?? 1);

export const ZERO_ENTRY: StrategyEntry = {
  name: "zero",
  summary: "sharded data parallelism (ZeRO / FSDP): --stage 1 shards the optimizer state, 2 also the gradients, 3 also the parameters",
  distributed: true,
  options: {
    stage: { type: "int", min: 1, max: 3, help: "zero: 1 shards optimizer state, 2 also gradients (reduce-scatter), 3 also parameters, gathered layer by layer (default 1)" },
  },
  create: (pg, o) => {
    if (!pg) throw new Error("the zero strategy needs a process group: run it under weft launch (weft train --workers N does)");
    return new ZeroStrategy(pg, { stage: stageOf(o) });
  },
  // Each rank holds 1/W of what is sharded; what is not sharded stays whole. Stage 3 also holds
  // the layer running and the one being fetched (Note [stage 3 recomputes]): the two largest.
  plannedMemory: (facts, o, workers) => {
    const stage = stageOf(o);
    const shard = (bytes: number): number => Math.ceil(bytes / workers);
    const layers = [...(facts.layerBytes ?? [])].sort((a, b) => b - a);
    const inFlight = (layers[0] ?? 0) + (layers[1] ?? 0);
    return {
      parameters: stage === 3 ? shard(facts.parameterBytes) + inFlight : facts.parameterBytes + shard(facts.parameterBytes),
      gradients: stage === 1 ? facts.parameterBytes + shard(facts.parameterBytes) : shard(facts.parameterBytes) + inFlight,
      optimizer: shard(facts.optimizerBytes),
    };
  },
  // Stages 1 and 2 keep whole parameters on every rank, and stage 3 gathers them at the end: the digests must agree.
  combine: (reports, workers) => ({
    replicas_identical: reports.slice(0, workers).every((r) => typeof r.digest === "string" && r.digest !== "" && r.digest === reports[0]!.digest),
  }),
};
