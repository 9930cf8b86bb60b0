// `--strategy pipeline --stages S --micro-batches M --schedule gpipe|1f1b [--dp D]`: the model's
// layer stack cut into S stages on S workers, micro-batches flowing through them.
import { balanceStages, parseSplit } from "../distributed/strategies/pipeline-balance.js";
import type { PipelineSchedule } from "../distributed/strategies/pipeline-schedule.js";
import { PipelineStrategy } from "../distributed/strategies/pipeline.js";
import type { StrategyEntry, StrategyOptions } from "./strategy-entry.js";

const DEFAULT_MICRO_BATCHES = 4;

/** The stages and data-parallel pipelines these options mean with `workers` workers, or why they cannot. */
function shape(o: StrategyOptions, workers: number): { stages: number; dp: number } | string {
  const dp = (o.dp as number | undefined) ?? (o.stages === undefined ? 1 : workers / (o.stages as number));
  const stages = (o.stages as number | undefined) ?? workers / dp;
  if (o.stages !== undefined && o.dp !== undefined && stages * dp !== workers) {
    return `--strategy pipeline runs --stages ${stages} x --dp ${dp} = ${stages * dp} workers, not --workers ${workers}: make --workers ${stages * dp}, or change --stages or --dp`;
  }
  if (stages > workers || dp > workers) {
    const given = stages > workers ? `--stages ${stages}` : `--dp ${dp}`;
    return `--workers ${workers} is fewer than ${given}: each stage of each pipeline is a worker of its own; use --workers ${o.stages !== undefined && o.dp !== undefined ? stages * dp : Math.max(stages, dp)}, or lower ${given.split(" ")[0]}`;
  }
  if (!Number.isInteger(stages) || !Number.isInteger(dp)) {
    const given = o.stages !== undefined ? `--stages ${o.stages as number}` : `--dp ${o.dp as number}`;
    return `--workers ${workers} is not a multiple of ${given}: each of the --dp pipelines has --stages workers; use --workers ${Math.ceil(workers / ((o.stages ?? o.dp) as number)) * ((o.stages ?? o.dp) as number)}, or change ${given.split(" ")[0]}`;
  }
  return { stages, dp };
}

function splitOf(o: StrategyOptions): number[] | string | undefined {
  return o.split === undefined ? undefined : parseSplit(o.split as string);
}

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
  check: (o, workers) => {
    const s = shape(o, workers);
    if (typeof s === "string") return s;
    const split = splitOf(o);
    if (typeof split === "string") return split;
    if (split && split.length !== s.stages - 1) {
      return `--split ${o.split as string} cuts the model into ${split.length + 1} stages, but there are ${s.stages} (--stages): give ${s.stages - 1} layer index(es), or change --stages`;
    }
    return undefined;
  },
  create: (pg, o, workers) => {
    if (!pg) throw new Error("the pipeline strategy needs a process group: run it under weft launch (weft train --workers N does)");
    const s = shape(o, workers);
    if (typeof s === "string") throw new RangeError(`pipeline: ${s}`);
    const split = splitOf(o);
    if (typeof split === "string") throw new RangeError(`pipeline: ${split}`);
    return new PipelineStrategy(pg, {
      stages: s.stages, dp: s.dp, split,
      microBatches: (o["micro-batches"] as number | undefined) ?? DEFAULT_MICRO_BATCHES,
      schedule: (o.schedule as PipelineSchedule | undefined) ?? "1f1b",
    });
  },
  // A worker holds its stage's share: the largest stage's, by --split or, before any batch can be
  // timed, balanced by parameter bytes (Note [balancing by measured time] in pipeline-balance.ts).
  plannedMemory: (facts, o, workers) => {
    const s = shape(o, workers);
    const stages = typeof s === "string" ? Math.max(1, workers) : s.stages;
    const layers = facts.layerBytes ?? [];
    let share = facts.parameterBytes / stages;
    if (layers.length >= stages) {
      const split = splitOf(o);
      const starts = Array.isArray(split) && split.length === stages - 1 && split.every((at) => at < layers.length) ? [0, ...split] : balanceStages(layers, stages);
      share = Math.max(...starts.map((from, i) => layers.slice(from, starts[i + 1] ?? layers.length).reduce((a, b) => a + b, 0)));
    }
    const fraction = facts.parameterBytes > 0 ? share / facts.parameterBytes : 0;
    return { parameters: share, gradients: share, optimizer: Math.ceil(facts.optimizerBytes * fraction) };
  },
  // Every rank ends with the whole model (finish() hands each stage on), so the digests must agree;
  // the first pipeline's ranks are its stages in order.
  combine: (reports, workers) => {
    const ranks = reports.slice(0, workers);
    const stages = Number(ranks[0]?.pipeline_stages ?? workers);
    const byStage = (key: string): string => ranks.slice(0, stages).map((r) => String(r[key] ?? "")).join(",");
    const bubbles = ranks.slice(0, stages).map((r) => Number(r.bubble ?? 0));
    return {
      replicas_identical: ranks.every((r) => typeof r.digest === "string" && r.digest !== "" && r.digest === ranks[0]!.digest),
      bubble_by_stage: byStage("bubble"),
      bubble_mean: Math.round((bubbles.reduce((a, b) => a + b, 0) / Math.max(1, bubbles.length)) * 10_000) / 10_000,
      stage_compute_ms_by_stage: byStage("stage_compute_ms"),
      live_micro_batches_by_stage: byStage("live_micro_batches_peak"),
      stage_layers_by_stage: ranks.slice(0, stages).map((r) => String(r.stage_layers ?? "")).join(" | "),
    };
  },
};
