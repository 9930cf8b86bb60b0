#!/usr/bin/env node
// One worker of scripts/bench-pipeline.mjs, started by `weft launch`: trains a stack of equal
// layers (Linear 512x512 then ReLU, so every layer costs the same and a cut in the middle
// balances the stages) under --strategy pipeline with the settings given as JSON in argv[2],
// and writes its strategy report to bench-<rank>.json in the run folder.
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = (p) => import(pathToFileURL(join(root, "dist/src", p)).href);
const { initProcessGroup } = await dist("distributed/group/init.js");
const { PipelineStrategy } = await dist("distributed/strategies/pipeline.js");
const { Linear, ReLU, Sequential, manualSeed, sequentialLayerStack } = await dist("nn/index.js");
const { SGD } = await dist("optim/index.js");
const { mseLoss, randn, Tensor } = await dist("tensor/index.js");
const { Rng } = await dist("util/rng.js");

const o = JSON.parse(process.argv[2]);
const pg = await initProcessGroup();
manualSeed(0);
const blocks = Array.from({ length: o.layers }, () => new Sequential(new Linear(o.width, o.width), new ReLU()));
const model = new Sequential(...blocks);
const rows = (b, from, to) => ({ x: new Tensor(b.x.dense().slice(from * o.width, to * o.width), [to - from, o.width]), y: new Tensor(b.y.dense().slice(from * o.width, to * o.width), [to - from, o.width]) });
const stack = sequentialLayerStack(model, {
  input: (b) => b.x,
  loss: (out, b) => mseLoss(out, b.y),
  split: (b, parts) => Array.from({ length: parts }, (_, k) => rows(b, (k * o.batch) / parts, ((k + 1) * o.batch) / parts)),
  samplesIn: () => o.batch,
});
const strategy = new PipelineStrategy(pg, { stages: pg.worldSize, microBatches: o.microBatches, schedule: o.schedule, split: o.split });
await strategy.setup(model, new SGD(model.parameters(), { lr: 1e-3 }), { layers: stack });
const rng = new Rng(1);
const batch = { x: randn([o.batch, o.width], rng), y: randn([o.batch, o.width], rng) };
const stepMs = [];
for (let t = 1; t <= o.steps; t++) {
  const started = performance.now();
  await strategy.step({ step: t, forward: () => { throw new Error("unused"); }, batch });
  stepMs.push(performance.now() - started);
}
await strategy.finish();
const report = { ...strategy.report(), step_ms_mean: stepMs.slice(1).reduce((a, b) => a + b, 0) / Math.max(1, stepMs.length - 1) };
writeFileSync(join(process.env.WEFT_RUN_DIR ?? ".", `bench-${pg.rank}.json`), JSON.stringify(report));
await strategy.end();
await pg.destroy();
