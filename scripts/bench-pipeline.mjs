#!/usr/bin/env node
// The pipeline's measured bubble against GPipe's formula (S - 1) / (M + S - 1), and 1F1B's
// activations against GPipe's (docs/model-parallel.md, "Pipeline parallelism"). Each run is a
// real job of S worker processes (`weft launch`, one core each) training a stack of equal layers
// (scripts/bench-pipeline-worker.mjs) cut into S equal stages, for every schedule and M given;
// the bubble is Note [measuring the bubble] in src/distributed/strategies/pipeline.ts, averaged
// over the steps after the first. Prints one JSON line per run:
//   {"schedule":"gpipe","stages":2,"micro_batches":4,"formula":0.2,"bubble_by_stage":[0.21,0.2],"step_ms":...,"live_by_stage":[4,4],"activation_bytes_by_stage":[...]}
//
//   node scripts/bench-pipeline.mjs [--stages 2] [--micro-batches 1,2,4,8] [--schedules gpipe,1f1b] [--steps 12] [--layers 8] [--width 512] [--batch 256] [--cpu-bind cores|none]
//
// Needs `npm run build` first. Use --stages at most the machine's cores: oversubscribed workers
// wait for a CPU, not for their neighbour, and the bubble stops meaning anything.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    stages: { type: "string", default: "2" }, "micro-batches": { type: "string", default: "1,2,4,8" }, schedules: { type: "string", default: "gpipe,1f1b" },
    steps: { type: "string", default: "12" }, "cpu-bind": { type: "string", default: "cores" }, layers: { type: "string", default: "8" }, width: { type: "string", default: "512" }, batch: { type: "string", default: "256" },
  },
});
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const weft = join(root, "dist/src/cli/main.js");
const worker = join(root, "scripts/bench-pipeline-worker.mjs");
const stages = Number(values.stages);
const layers = Number(values.layers);
const split = Array.from({ length: stages - 1 }, (_, i) => ((i + 1) * layers) / stages);
if (split.some((s) => !Number.isInteger(s))) throw new Error(`bench-pipeline: --layers ${layers} does not cut into ${stages} equal stages`);
const round = (v, d = 4) => Math.round(v * 10 ** d) / 10 ** d;

for (const schedule of values.schedules.split(",")) {
  for (const microBatches of values["micro-batches"].split(",").map(Number)) {
    const runDir = mkdtempSync(join(tmpdir(), "weft-bench-pipeline-"));
    try {
      const job = { schedule, microBatches, split, steps: Number(values.steps), layers, width: Number(values.width), batch: Number(values.batch) };
      const run = spawnSync(process.execPath, [weft, "launch", "--nproc", String(stages), "--cpu-bind", values["cpu-bind"], "--no-metrics", "--run-dir", runDir, worker, JSON.stringify(job)], { encoding: "utf8" });
      if (run.status !== 0) throw new Error(`bench-pipeline: the ${schedule} M=${microBatches} job failed:\n${run.stderr}`);
      const reports = Array.from({ length: stages }, (_, r) => JSON.parse(readFileSync(join(runDir, `bench-${r}.json`), "utf8")));
      console.log(JSON.stringify({
        schedule, stages, micro_batches: microBatches, formula: round((stages - 1) / (microBatches + stages - 1)),
        bubble_by_stage: reports.map((r) => r.bubble), compute_ms_by_stage: reports.map((r) => r.stage_compute_ms), send_ms_by_stage: reports.map((r) => r.stage_send_ms), span_ms_by_stage: reports.map((r) => r.stage_step_ms),
        step_ms: round(Math.max(...reports.map((r) => r.step_ms_mean)), 1),
        live_by_stage: reports.map((r) => r.live_micro_batches_peak), activation_bytes_by_stage: reports.map((r) => r.stage_activation_bytes_peak),
      }));
    } finally {
      rmSync(runDir, { recursive: true, force: true });
    }
  }
}
