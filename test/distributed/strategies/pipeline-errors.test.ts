// Bad set-ups of --strategy pipeline fail in one line that says what to change, on every rank and
// before anything is updated: a recipe without a layer stack, more stages than layers, a batch
// the micro-batches do not divide, workers that are not stages x pipelines, a --split of the
// wrong length; a loss that is not finite throws NonFiniteLossError on every stage. Also the
// entry's memory plan and the job's combined report.
import assert from "node:assert/strict";
import { test } from "node:test";
import { splitLabeled, type LabeledBatch } from "../../../src/data/index.js";
import { createInProcessGroups } from "../../../src/distributed/group/in-process-group.js";
import { NonFiniteLossError } from "../../../src/distributed/strategies/non-finite-loss.js";
import { PipelineStrategy, type PipelineOptions } from "../../../src/distributed/strategies/pipeline.js";
import { Linear, manualSeed, ReLU, Sequential, sequentialLayerStack, type LayerStack } from "../../../src/nn/index.js";
import { SGD } from "../../../src/optim/index.js";
import { crossEntropy, Tensor } from "../../../src/tensor/index.js";
import { PIPELINE_ENTRY } from "../../../src/train/entry-pipeline.js";

function mlp(): Sequential {
  manualSeed(1);
  return new Sequential(new Linear(6, 8), new ReLU(), new Linear(8, 3)); // 3 layers
}

const stackOf = (m: Sequential): LayerStack<unknown> => sequentialLayerStack<LabeledBatch>(m, {
  input: (b) => new Tensor(b.x, b.xShape), loss: (out, b) => crossEntropy(out, b.y), split: splitLabeled, samplesIn: (b) => b.y.length,
}) as LayerStack<unknown>;

function batch(n: number, value = 0.5): LabeledBatch {
  return { x: new Float32Array(n * 6).fill(value), xShape: [n, 6], y: new Int32Array(n), indices: new Int32Array(n) };
}

const oneLine = (message: RegExp) => (e: unknown): boolean => {
  assert.ok(e instanceof Error);
  assert.doesNotMatch(e.message, /\n/);
  assert.match(e.message, message);
  return true;
};

/** `n` ranks set up on the MLP; returns them for steps. */
async function ranks(n: number, o: PipelineOptions, withLayers = true) {
  const pgs = createInProcessGroups(n);
  const models = pgs.map(() => mlp());
  const strategies = pgs.map((pg) => new PipelineStrategy(pg, o));
  const setups = await Promise.allSettled(strategies.map((s, r) => s.setup(models[r]!, new SGD(models[r]!.parameters(), { lr: 0.1 }), withLayers ? { layers: stackOf(models[r]!) } : {})));
  return { pgs, models, strategies, setups, destroy: () => Promise.all(pgs.map((pg) => pg.destroy())) };
}

test("a recipe without a layer stack is refused at set-up, naming Recipe.layers", async () => {
  const run = await ranks(2, { stages: 2, microBatches: 2, schedule: "1f1b" }, false);
  for (const s of run.setups) {
    assert.equal(s.status, "rejected");
    oneLine(/does not describe its model as a stack of layers \(Recipe\.layers\).*or use --strategy ddp/)((s as PromiseRejectedResult).reason);
  }
  await run.destroy();
});

test("more stages than layers is refused at set-up on every rank: use --stages 3 or fewer", async () => {
  const run = await ranks(4, { stages: 4, microBatches: 2, schedule: "gpipe" });
  for (const s of run.setups) oneLine(/--stages 4 is more than the 3 layers of the model's layer stack.*use --stages 3 or fewer/)((s as PromiseRejectedResult).reason);
  await run.destroy();
});

test("a batch the micro-batches do not divide is refused on every rank before any message", async () => {
  const run = await ranks(2, { stages: 2, microBatches: 3, schedule: "1f1b", split: [2] });
  const before = run.models[0]!.parameters().map((p) => p.dense().slice());
  const steps = await Promise.allSettled(run.strategies.map((s) => s.step({ step: 1, forward: () => { throw new Error("unused"); }, batch: batch(8) })));
  for (const s of steps) oneLine(/a batch of 8 samples cannot be cut into 3 equal micro-batches: choose --micro-batches to divide --batch/)((s as PromiseRejectedResult).reason);
  run.models[0]!.parameters().forEach((p, i) => assert.deepEqual(p.dense(), before[i]));
  await run.destroy();
});

test("a loss that is not finite throws NonFiniteLossError on every stage, and no stage updates", async () => {
  const run = await ranks(2, { stages: 2, microBatches: 2, schedule: "gpipe", split: [1] });
  const before = run.models.map((m) => m.parameters().map((p) => p.dense().slice()));
  const steps = await Promise.allSettled(run.strategies.map((s) => s.step({ step: 4, forward: () => { throw new Error("unused"); }, batch: batch(4, Number.NaN) })));
  for (const s of steps) {
    const err = (s as PromiseRejectedResult).reason as unknown;
    assert.ok(err instanceof NonFiniteLossError, String(err));
    assert.equal(err.step, 4);
  }
  run.models.forEach((m, r) => m.parameters().forEach((p, i) => assert.deepEqual(p.dense(), before[r]![i], `rank ${r} parameter ${i}`)));
  await run.destroy();
});

test("--split out of the stack's range is refused at set-up, naming the layers", async () => {
  const run = await ranks(2, { stages: 2, microBatches: 2, schedule: "gpipe", split: [3] });
  for (const s of run.setups) oneLine(/--split 3 must rise strictly between 1 and 2 \(the model has 3 layers, 0..2\)/)((s as PromiseRejectedResult).reason);
  await run.destroy();
});

test("weft train's check: workers that are not stages x pipelines, a --split of the wrong length; good shapes pass", () => {
  const check = PIPELINE_ENTRY.check!;
  assert.match(check({ stages: 2 }, 3)!, /^--workers 3 is not a multiple of --stages 2: .*use --workers 4, or change --stages$/);
  assert.match(check({ dp: 2 }, 3)!, /^--workers 3 is not a multiple of --dp 2/);
  assert.match(check({ stages: 12 }, 2)!, /^--workers 2 is fewer than --stages 12: .*use --workers 12, or lower --stages$/);
  assert.match(check({ stages: 2, dp: 2 }, 6)!, /--stages 2 x --dp 2 = 4 workers, not --workers 6: make --workers 4, or change --stages or --dp/);
  assert.match(check({ stages: 3, split: "4" }, 3)!, /--split 4 cuts the model into 2 stages, but there are 3 \(--stages\): give 2 layer index\(es\)/);
  assert.match(check({ split: "4,2" }, 3)!, /--split 4,2 must be rising layer indices/);
  for (const [o, w] of [[{}, 2], [{ stages: 2 }, 4], [{ dp: 2 }, 4], [{ stages: 2, dp: 3 }, 6], [{ stages: 3, split: "1,2" }, 3]] as const) {
    assert.equal(check(o, w), undefined, JSON.stringify(o));
  }
  assert.throws(() => new PipelineStrategy(createInProcessGroups(3)[0]!, { stages: 2, microBatches: 2, schedule: "1f1b" }), /--stages 2 x --dp 1 is 2 workers, the job has 3/);
});

test("the memory plan gives a worker its stage's share: the largest stage, by --split or by parameter bytes", () => {
  const facts = { parameterBytes: 1000, optimizerBytes: 2000, layerBytes: [100, 0, 300, 600] };
  assert.deepEqual(PIPELINE_ENTRY.plannedMemory!(facts, { stages: 2 }, 2), { parameters: 600, gradients: 600, optimizer: 1200 });
  assert.deepEqual(PIPELINE_ENTRY.plannedMemory!(facts, { stages: 2, split: "1" }, 2), { parameters: 900, gradients: 900, optimizer: 1800 });
  assert.deepEqual(PIPELINE_ENTRY.plannedMemory!({ parameterBytes: 1000, optimizerBytes: 0 }, { dp: 2 }, 4), { parameters: 500, gradients: 500, optimizer: 0 });
});

test("the job's report: replicas identical once every rank holds the whole model, and the stages' bubbles", () => {
  const rank = (stage: number, digest: string) => ({ pipeline_stages: 2, bubble: [0.2, 0.3][stage], stage_compute_ms: 10 + stage, live_micro_batches_peak: 2 - stage, stage_layers: `${stage}..${stage}`, digest });
  const combined = PIPELINE_ENTRY.combine!([rank(0, "a"), rank(1, "a"), rank(0, "a"), rank(1, "a")], 4);
  assert.deepEqual(combined, {
    replicas_identical: true, bubble_by_stage: "0.2,0.3", bubble_mean: 0.25, stage_compute_ms_by_stage: "10,11", live_micro_batches_by_stage: "2,1", stage_layers_by_stage: "0..0 | 1..1",
  });
  assert.equal(PIPELINE_ENTRY.combine!([rank(0, "a"), rank(1, "b")], 2).replicas_identical, false);
});
