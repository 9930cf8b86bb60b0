// A pipeline of one stage is plain training, bit for bit (the baseline every strategy must equal
// on one rank); a stage that is lost is a typed PeerLostError for its neighbours' next step,
// naming it, well before any deadline, rather than a hang.
import assert from "node:assert/strict";
import { test } from "node:test";
import { PeerLostError } from "../../../src/distributed/base/errors.js";
import { createInProcessGroups } from "../../../src/distributed/group/in-process-group.js";
import { PipelineStrategy } from "../../../src/distributed/strategies/pipeline.js";
import { SingleStrategy } from "../../../src/distributed/strategies/single.js";
import type { Strategy } from "../../../src/distributed/strategies/strategy.js";
import { InProcessHub } from "../../../src/distributed/transport/in-process-transport.js";
import { TinyGpt, type TokenBatch } from "../../../src/models/tiny-gpt.js";
import { manualSeed, type LayerStack } from "../../../src/nn/index.js";
import { Adam } from "../../../src/optim/index.js";
import { Rng } from "../../../src/util/rng.js";

const CONFIG = { vocab: 16, context: 8, layers: 2, dim: 16, heads: 2 };

function tokens(t: number): TokenBatch {
  const rng = new Rng(40).fork(t);
  const ids = (): Int32Array => Int32Array.from({ length: 4 * 8 }, () => rng.int(16));
  return { tokens: ids(), targets: ids(), batch: 4, time: 8 };
}

async function train(strategy: Strategy, steps: number): Promise<{ model: TinyGpt; losses: number[] }> {
  manualSeed(3);
  const model = new TinyGpt(CONFIG);
  await strategy.setup(model, new Adam(model.parameters(), { lr: 0.01 }), { layers: model.layerStack() as LayerStack<unknown> });
  const losses: number[] = [];
  for (let t = 1; t <= steps; t++) {
    const batch = tokens(t);
    losses.push((await strategy.step({ step: t, forward: () => model.loss(batch), batch })).loss);
  }
  await strategy.finish();
  await strategy.end();
  return { model, losses };
}

test("one stage with one micro-batch is plain training, bit for bit", async () => {
  const [pg] = createInProcessGroups(1);
  const pipeline = await train(new PipelineStrategy(pg!, { stages: 1, microBatches: 1, schedule: "1f1b" }), 8);
  const single = await train(new SingleStrategy(), 8);
  assert.deepEqual(pipeline.losses, single.losses.map((l) => Math.fround(l)));
  pipeline.model.parameters().forEach((p, i) => assert.deepEqual(p.dense(), single.model.parameters()[i]!.dense(), `parameter ${i}`));
  await pg!.destroy();
});

test("a lost middle stage is a PeerLostError naming it for both neighbours' next step", async () => {
  const hub = new InProcessHub(3);
  const pgs = createInProcessGroups(3, { hub });
  const models = pgs.map(() => (manualSeed(3), new TinyGpt(CONFIG)));
  const strategies = pgs.map((pg) => new PipelineStrategy(pg, { stages: 3, microBatches: 2, schedule: "gpipe", split: [1, 3] }));
  await Promise.all(strategies.map((s, r) => s.setup(models[r]!, new Adam(models[r]!.parameters(), { lr: 0.01 }), { layers: models[r]!.layerStack() as LayerStack<unknown> })));
  const step = (r: number, t: number) => strategies[r]!.step({ step: t, forward: () => { throw new Error("unused"); }, batch: tokens(t) });
  await Promise.all([0, 1, 2].map((r) => step(r, 1)));
  hub.kill(1, "killed by the test");
  await new Promise((resolve) => setImmediate(resolve));
  const started = performance.now();
  for (const r of [0, 2]) await assert.rejects(step(r, 2), (err: Error) => err instanceof PeerLostError && /rank 1/.test(err.message), `rank ${r}`);
  assert.ok(performance.now() - started < 5000, "well before the 30 s deadline");
  await Promise.all(pgs.map((pg) => pg.destroy()));
});
