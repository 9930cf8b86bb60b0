// Pipeline parallelism on in-process groups (every stage a rank in this process, the same engine
// and point-to-point messages as over TCP): 20 steps of gpipe and 1f1b, on 2 and 3 stages, and 2
// stages x 2 pipelines, equal one process (bit for bit against one process accumulating the same
// micro-batches, Note [a pipeline equals one process accumulating micro-batches]; within a stated
// tolerance against one process on the whole batch); 1F1B holds fewer micro-batches than GPipe;
// the stages' checkpoint shards cover the state once; set-up carries the optimizer state on.
// Timing (the bubble) is not asserted here: in one thread a rank's wait is the other ranks'
// compute. pipeline-schedule.test.ts checks the schedules' idle slots, scripts/bench-pipeline.mjs
// measures the wall-clock bubble with real processes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createInProcessGroups } from "../../../src/distributed/group/in-process-group.js";
import { PipelineStrategy, type PipelineOptions } from "../../../src/distributed/strategies/pipeline.js";
import type { StateShard } from "../../../src/distributed/strategies/strategy.js";
import { mnistCnn } from "../../../src/models/mnist-cnn.js";
import { TinyGpt, type TinyGptConfig, type TokenBatch } from "../../../src/models/tiny-gpt.js";
import { manualSeed, runLayerStack, sequentialLayerStack, type LayerStack, type Module, type Sequential } from "../../../src/nn/index.js";
import { Adam } from "../../../src/optim/index.js";
import { crossEntropy, randn, Tensor } from "../../../src/tensor/index.js";
import { Rng } from "../../../src/util/rng.js";
import { splitLabeled, type LabeledBatch } from "../../../src/data/index.js";

const GPT: TinyGptConfig = { vocab: 16, context: 8, layers: 2, dim: 16, heads: 2 }; // 4 layers: embed, 2 blocks, head
const SEQUENCES = 8;
const STEPS = 20;
const LR = 0.01;

/** Pipeline `replica`'s batch of step t: 8 random sequences of 8 tokens. */
function tokens(replica: number, t: number): TokenBatch {
  const rng = new Rng(700 + replica).fork(t);
  const ids = (): Int32Array => Int32Array.from({ length: SEQUENCES * GPT.context }, () => rng.int(GPT.vocab));
  return { tokens: ids(), targets: ids(), batch: SEQUENCES, time: GPT.context };
}

function union(batches: TokenBatch[]): TokenBatch {
  const cat = (k: "tokens" | "targets"): Int32Array => Int32Array.from(batches.flatMap((b) => [...b[k]]));
  return { tokens: cat("tokens"), targets: cat("targets"), batch: batches.reduce((n, b) => n + b.batch, 0), time: batches[0]!.time };
}

function gpt(seed: number): TinyGpt {
  manualSeed(seed);
  return new TinyGpt(GPT);
}

interface Task<M extends Module, B> {
  model(seed: number): M;
  stack(m: M): LayerStack<B>;
  batch(replica: number, t: number): B;
}

const gptTask: Task<TinyGpt, TokenBatch> = { model: gpt, stack: (m) => m.layerStack(), batch: tokens };

/** Trains `stages` x `dp` in-process ranks (rank r from seed 10 + r: set-up must take rank 0's model). */
async function trainPipeline<M extends Module, B>(task: Task<M, B>, o: Omit<PipelineOptions, "dp"> & { dp?: number }, steps = STEPS) {
  const pgs = createInProcessGroups(o.stages * (o.dp ?? 1));
  const models = pgs.map((_, r) => task.model(10 + r));
  const strategies = pgs.map((pg) => new PipelineStrategy(pg, o));
  await Promise.all(strategies.map((s, r) => s.setup(models[r]!, new Adam(models[r]!.parameters(), { lr: LR }), { layers: task.stack(models[r]!) as LayerStack<unknown> })));
  const losses: number[] = [];
  for (let t = 1; t <= steps; t++) {
    const out = await Promise.all(strategies.map((s) => s.step({ step: t, forward: () => { throw new Error("a pipeline runs the stack itself"); }, batch: task.batch(s.dataShard.rank, t) })));
    assert.ok(out.every((x) => x.loss === out[0]!.loss), `step ${t}: every rank has the same loss (${out.map((x) => x.loss)})`);
    losses.push(out[0]!.loss);
  }
  await Promise.all(strategies.map((s) => s.finish()));
  const reports = strategies.map((s) => s.report());
  const shards = strategies.map((s) => s.stateShard());
  const memory = strategies.map((s) => s.memory());
  await Promise.all(strategies.map((s) => s.end()));
  await Promise.all(pgs.map((pg) => pg.destroy()));
  return { models, losses, reports, shards, memory };
}

/** One process running the stack on each micro-batch and backpropagating loss / M: what a pipeline computes exactly. */
function accumulating<M extends Module, B>(task: Task<M, B>, microBatches: number, steps = STEPS) {
  const m = task.model(10);
  const stack = task.stack(m);
  const opt = new Adam(m.parameters(), { lr: LR });
  const losses: number[] = [];
  for (let t = 1; t <= steps; t++) {
    opt.zeroGrad();
    let sum = 0;
    for (const mb of stack.split(task.batch(0, t), microBatches)) {
      const loss = runLayerStack(stack, mb);
      sum += loss.item();
      loss.backward(new Tensor(new Float32Array(loss.size).fill(1 / microBatches), loss.shape));
    }
    losses.push(Math.fround(sum / microBatches));
    opt.step();
  }
  return { model: m, losses };
}

/** One process on the union of `dp` pipelines' whole batches, one backward. */
function wholeBatch(dp: number, steps = STEPS) {
  const m = gpt(10);
  const opt = new Adam(m.parameters(), { lr: LR });
  const losses: number[] = [];
  for (let t = 1; t <= steps; t++) {
    opt.zeroGrad();
    const loss = m.loss(union(Array.from({ length: dp }, (_, d) => tokens(d, t))));
    losses.push(loss.item());
    loss.backward();
    opt.step();
  }
  return { model: m, losses };
}

function flat(m: Module): Float32Array {
  return Float32Array.from(m.parameters().flatMap((p) => [...p.dense()]));
}

/**
 * The parameters to compare with one process on the whole batch: all but the key projection's
 * bias (elements [dim, 2·dim) of each block's qkv.bias). Its gradient is zero in exact arithmetic
 * (adding q·b to every logit of a query leaves the softmax unchanged), so both runs feed Adam
 * rounding noise of ~1e-9 there, which Adam scales to steps of size lr: those elements drift
 * apart by up to lr·steps in any two runs that round differently, and say nothing of the pipeline.
 */
function comparable(m: TinyGpt): Float32Array {
  const keyBiases = new Set(m.blocks.map((b) => b.attn.qkv.bias));
  const dim = m.config.dim;
  return Float32Array.from(m.parameters().flatMap((p) => {
    const v = [...p.dense()];
    return keyBiases.has(p) ? [...v.slice(0, dim), ...v.slice(2 * dim)] : v;
  }));
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

// Float tolerance against one process on the whole batch: the pipeline sums each parameter's
// gradient over M micro-batches one after another (and averages over pipelines by all-reduce),
// one process over the whole batch in one pass, so the two differ in the last bits of every
// step and Adam, whose update is about lr in size whatever the gradient's, carries that on.
// Over 20 steps at lr 0.01 they stay within 2e-6 (measured 1.6e-6 at most, losses 2.4e-7); 5e-5 leaves room
// and still catches a gradient that is off by a micro-batch (that moves parameters by ~1e-3).
const TOLERANCE = 5e-5;

for (const schedule of ["gpipe", "1f1b"] as const) {
  for (const [stages, split] of [[2, [2]], [3, undefined]] as const) {
    test(`${schedule} on ${stages} stages (${split ? `--split ${split}` : "cut by measured cost"}) trains what one process accumulating the micro-batches trains, bit for bit, for 20 steps`, async () => {
      const run = await trainPipeline(gptTask, { stages, microBatches: 4, schedule, split });
      const ref = accumulating(gptTask, 4);
      assert.deepEqual(run.losses, ref.losses);
      for (const [r, m] of run.models.entries()) assert.equal(maxDiff(flat(m), flat(ref.model)), 0, `rank ${r}'s whole model after finish()`);
      assert.ok(run.reports.every((rep) => rep.digest !== "" && rep.digest === run.reports[0]!.digest), "every rank ends with the same whole model");
      assert.ok(run.reports.every((rep) => rep.pipeline_split === run.reports[0]!.pipeline_split), "every rank took the same cut");
      const whole = wholeBatch(1);
      const lossDiff = maxDiff(run.losses, whole.losses);
      const paramDiff = maxDiff(comparable(run.models[0]!), comparable(whole.model));
      assert.ok(lossDiff < TOLERANCE && paramDiff < TOLERANCE, `against one process on the whole batch: losses ${lossDiff}, parameters ${paramDiff}`);
      assert.ok(run.losses[STEPS - 1]! < run.losses[0]!, `it learns: ${run.losses[0]} -> ${run.losses[STEPS - 1]}`);
    });
  }
}

test("2 stages x 2 data-parallel pipelines on 4 ranks equal one process on the union of the pipelines' batches for 20 steps", async () => {
  const run = await trainPipeline(gptTask, { stages: 2, dp: 2, microBatches: 2, schedule: "1f1b", split: [3] });
  const whole = wholeBatch(2);
  const lossDiff = maxDiff(run.losses, whole.losses);
  const paramDiff = maxDiff(comparable(run.models[0]!), comparable(whole.model));
  assert.ok(lossDiff < TOLERANCE && paramDiff < TOLERANCE, `losses ${lossDiff}, parameters ${paramDiff}`);
  assert.ok(run.reports.every((rep) => rep.digest !== "" && rep.digest === run.reports[0]!.digest), "both pipelines end bitwise equal");
  assert.deepEqual(run.reports.map((rep) => rep.pipeline_stage), [0, 1, 0, 1]);
});

/** The MNIST CNN (10 layers) on random digits, in micro-batches of 2. */
const mnistTask: Task<Sequential, LabeledBatch> = {
  model: (seed) => (manualSeed(seed), mnistCnn()),
  stack: (m) => sequentialLayerStack<LabeledBatch>(m, {
    input: (b) => new Tensor(b.x, b.xShape), loss: (out, b) => crossEntropy(out, b.y), split: splitLabeled, samplesIn: (b) => b.y.length,
  }),
  batch: (replica, t) => {
    const rng = new Rng(800 + replica).fork(t);
    const n = 4;
    return { x: randn([n, 1, 28, 28], rng).data, xShape: [n, 1, 28, 28], y: Int32Array.from({ length: n }, () => rng.int(10)), indices: new Int32Array(n) };
  },
};

test("the MNIST CNN cut by measured cost into 2 stages trains what one process accumulating the micro-batches trains, bit for bit", async () => {
  const steps = 8;
  const run = await trainPipeline(mnistTask, { stages: 2, microBatches: 2, schedule: "1f1b" }, steps);
  const ref = accumulating(mnistTask, 2, steps);
  assert.deepEqual(run.losses, ref.losses);
  assert.equal(maxDiff(flat(run.models[0]!), flat(ref.model)), 0);
  const cut = Number(run.reports[0]!.pipeline_split);
  assert.ok(cut >= 1 && cut <= 9, `a cut inside the 10 layers: ${cut}`);
});

test("1F1B holds fewer micro-batches, and fewer activation bytes, than GPipe at the same M", async () => {
  const gpipe = await trainPipeline(gptTask, { stages: 2, microBatches: 4, schedule: "gpipe", split: [2] }, 3);
  const ofob = await trainPipeline(gptTask, { stages: 2, microBatches: 4, schedule: "1f1b", split: [2] }, 3);
  assert.deepEqual(gpipe.reports.map((r) => r.live_micro_batches_peak), [4, 4]);
  assert.deepEqual(ofob.reports.map((r) => r.live_micro_batches_peak), [2, 1]);
  for (const s of [0, 1]) {
    const [g, f] = [gpipe.reports[s]!.stage_activation_bytes_peak as number, ofob.reports[s]!.stage_activation_bytes_peak as number];
    assert.ok(g > 0 && f < g, `stage ${s}: 1f1b ${f} bytes, gpipe ${g}`);
  }
  // Equal micro-batches hold equal bytes: stage 0 holds 2 of GPipe's 4, stage 1 one.
  assert.equal(ofob.reports[0]!.stage_activation_bytes_peak, (gpipe.reports[0]!.stage_activation_bytes_peak as number) / 2);
  assert.equal(ofob.reports[1]!.stage_activation_bytes_peak, (gpipe.reports[1]!.stage_activation_bytes_peak as number) / 4);
});

test("the stages' checkpoint shards hold each tensor once, whole, under the model's names; memory() is the stage's own", async () => {
  const run = await trainPipeline(gptTask, { stages: 2, dp: 2, microBatches: 2, schedule: "gpipe", split: [1] }, 2);
  const model = run.models[0]!;
  const seen = new Map<string, number>();
  run.shards.forEach((shard: StateShard) => {
    for (const name of [...Object.keys(shard.model), ...Object.keys(shard.optimizer)]) seen.set(name, (seen.get(name) ?? 0) + 1);
    assert.equal(shard.optimizerStep, 2);
  });
  assert.equal(Object.keys(run.shards[2]!.model).length + Object.keys(run.shards[3]!.model).length, 0, "the second pipeline's copies are not written twice");
  for (const [name, p] of model.namedParameters()) {
    assert.equal(seen.get(name), 1, `${name} in one shard`);
    assert.equal(seen.get(`${name}.exp_avg`), 1);
    assert.equal(seen.get(`${name}.exp_avg_sq`), 1);
    const slice = (run.shards[0]!.model[name] ?? run.shards[1]!.model[name])!;
    assert.deepEqual([slice.dim, slice.start, slice.end, slice.shape], ["flat", 0, p.size, p.shape]);
    assert.deepEqual(slice.data, p.dense());
  }
  assert.equal(seen.size, model.namedParameters().length * 3);
  const bytes = (m: Module): number => m.parameters().reduce((n, p) => n + p.size * 4, 0);
  const embed = bytes(model.tok) + bytes(model.pos);
  assert.deepEqual(run.memory[0], { parameters: embed, gradients: embed, optimizer: 2 * embed });
  assert.equal(run.memory[0]!.parameters + run.memory[1]!.parameters, bytes(model));
});

test("set-up carries on the optimizer state the model's optimizer holds for the stage (a resumed run's)", async () => {
  const pgs = createInProcessGroups(2);
  const models = pgs.map(() => gpt(10));
  const optimizers = models.map((m) => new Adam(m.parameters(), { lr: LR }));
  for (const [r, m] of models.entries()) { // one step in one process, as a loaded checkpoint leaves it
    m.loss(tokens(0, 1)).backward();
    optimizers[r]!.step();
  }
  const strategies = pgs.map((pg) => new PipelineStrategy(pg, { stages: 2, microBatches: 2, schedule: "1f1b", split: [2] }));
  await Promise.all(strategies.map((s, r) => s.setup(models[r]!, optimizers[r]!, { layers: models[r]!.layerStack() as LayerStack<unknown> })));
  const state = optimizers[0]!.stateDict();
  const index = new Map(models[0]!.parameters().map((p, i) => [p, i]));
  for (const s of strategies) {
    const shard = s.stateShard();
    assert.equal(shard.optimizerStep, 1);
    for (const [name, p] of models[0]!.namedParameters()) {
      const held = shard.optimizer[`${name}.exp_avg`];
      if (held) assert.deepEqual(held.data, state.buffers[`${index.get(p)}.exp_avg`]);
    }
  }
  assert.equal(Object.keys(strategies[0]!.stateShard().optimizer).length + Object.keys(strategies[1]!.stateShard().optimizer).length, 2 * models[0]!.parameters().length);
  await Promise.all(pgs.map((pg) => pg.destroy()));
});
