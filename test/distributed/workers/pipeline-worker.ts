// One stage of a real-process pipeline (test/distributed/strategies/pipeline-processes.test.ts):
// a tiny GPT cut into WEFT_WORLD_SIZE stages by measured cost, 10 Adam steps of
// `--schedule argv[2]`, 4 micro-batches, then one JSON line with the losses and the digest of the
// whole model after finish().
import { initProcessGroup } from "../../../src/distributed/group/init.js";
import { modelDigest } from "../../../src/distributed/strategies/flat-state.js";
import { PipelineStrategy } from "../../../src/distributed/strategies/pipeline.js";
import type { PipelineSchedule } from "../../../src/distributed/strategies/pipeline-schedule.js";
import { TinyGpt, type TokenBatch } from "../../../src/models/tiny-gpt.js";
import { manualSeed, type LayerStack } from "../../../src/nn/index.js";
import { Adam } from "../../../src/optim/index.js";
import { Rng } from "../../../src/util/rng.js";

export const WORKER_GPT = { vocab: 16, context: 8, layers: 2, dim: 16, heads: 2 };

/** The batch of step t (the test's reference computes the same). */
export function workerTokens(t: number): TokenBatch {
  const rng = new Rng(900).fork(t);
  const ids = (): Int32Array => Int32Array.from({ length: 8 * 8 }, () => rng.int(16));
  return { tokens: ids(), targets: ids(), batch: 8, time: 8 };
}

if (process.env.WEFT_RANK !== undefined) {
  const pg = await initProcessGroup();
  manualSeed(10);
  const model = new TinyGpt(WORKER_GPT);
  const strategy = new PipelineStrategy(pg, { stages: pg.worldSize, microBatches: 4, schedule: process.argv[2] as PipelineSchedule });
  await strategy.setup(model, new Adam(model.parameters(), { lr: 0.01 }), { layers: model.layerStack() as LayerStack<unknown> });
  const losses: number[] = [];
  for (let t = 1; t <= 10; t++) losses.push((await strategy.step({ step: t, forward: () => { throw new Error("unused"); }, batch: workerTokens(t) })).loss);
  await strategy.finish();
  console.log(JSON.stringify({ rank: pg.rank, transport: pg.transport, losses, digest: modelDigest(model), split: strategy.report().pipeline_split }));
  await strategy.end();
  await pg.destroy();
}
