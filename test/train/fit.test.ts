// The training loop with its two first strategies, on the MNIST recipe with a tiny budget:
// data parallelism on 2 ranks equals one process on the same global batch, a NaN loss stops every
// rank before any update, and a resumed run continues exactly where the interrupted one was.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { MetricsWriter } from "../../src/distributed/metrics/metrics-writer.js";
import { createInProcessGroups } from "../../src/distributed/group/in-process-group.js";
import { DdpStrategy } from "../../src/distributed/strategies/ddp-strategy.js";
import { NonFiniteLossError } from "../../src/distributed/strategies/non-finite-loss.js";
import { SingleStrategy } from "../../src/distributed/strategies/single.js";
import type { Strategy } from "../../src/distributed/strategies/strategy.js";
import { Linear, manualSeed } from "../../src/nn/index.js";
import { SGD } from "../../src/optim/index.js";
import { mnist } from "../../src/recipes/mnist.js";
import { fit } from "../../src/train/fit.js";
import type { RecipeSettings } from "../../src/train/recipe.js";
import { runRecipe } from "../../src/train/run-recipe.js";
import { mseLoss, tensor } from "../../src/tensor/index.js";

const settings = (batch: number, maxSteps: number): RecipeSettings => ({
  epochs: 1, maxSteps, seed: 3, batch, lr: 2e-3, options: { shift: 2, "warmup-steps": 2 },
});

test("ddp on 2 ranks with 32 samples each follows one process with 64 through runRecipe", async () => {
  const steps = 6;
  const single = await runRecipe({ recipe: mnist, settings: settings(64, steps), strategy: new SingleStrategy() });
  const pgs = createInProcessGroups(2);
  const results = await Promise.all(pgs.map((pg) => runRecipe({ recipe: mnist, settings: settings(32, steps), strategy: new DdpStrategy(pg) })));
  // Both ranks agree with each other bit for bit, and with the single process to rounding.
  assert.equal(results[0]!.digest, results[1]!.digest);
  assert.equal(results[0]!.steps, steps);
  assert.equal(results[0]!.workers, 2);
  assert.ok(Math.abs(results[0]!.train_loss - single.train_loss) < 1e-4, `ddp loss ${results[0]!.train_loss}, single ${single.train_loss}`);
  assert.ok(Math.abs(results[0]!.value - single.value) <= 0.005, `ddp accuracy ${results[0]!.value}, single ${single.value}`);
});

test("fit: per-step losses of ddp (2 x 32) and single (64) agree at every step", async () => {
  const steps = 5;
  const run = async (strategy: Strategy, batch: number): Promise<number[]> => {
    const losses: number[] = [];
    manualSeed(1);
    const s = settings(batch, steps);
    const model = mnist.model(s);
    const { train, collate } = mnist.data(s);
    const { DataLoader, DistributedSampler } = await import("../../src/data/index.js");
    const data = new DataLoader(train, { batchSize: batch, collate, seed: 1, sampler: new DistributedSampler(train.length, { rank: strategy.rank, worldSize: strategy.worldSize, seed: 1 }) });
    await fit({
      model, optimizer: mnist.optimizer(model, s), data, strategy, maxSteps: steps,
      loss: (m, b) => mnist.loss(m, b), samplesIn: (b) => mnist.samplesIn(b), onStep: (i) => losses.push(i.loss),
    });
    return losses;
  };
  const single = await run(new SingleStrategy(), 64);
  const pgs = createInProcessGroups(2);
  const [d0, d1] = await Promise.all(pgs.map((pg) => run(new DdpStrategy(pg), 32)));
  assert.deepEqual(d0, d1, "the ranks report the same (averaged) loss");
  assert.equal(single.length, steps);
  single.forEach((l, i) => assert.ok(Math.abs(l - d0![i]!) < 1e-4, `step ${i}: single ${l}, ddp ${d0![i]}`));
  // Training moved: the losses are not all the same number.
  assert.ok(new Set(single.map((l) => l.toFixed(4))).size > 1);
});

test("a NaN on one rank stops every rank at the same step, before any update", async () => {
  const pgs = createInProcessGroups(2);
  const models = pgs.map(() => (manualSeed(0), new Linear(2, 1)));
  const before = models.map((m) => m.parameters().map((p) => p.dense().slice()));
  const x = tensor([1, 2], [1, 2]);
  const y = tensor([1], [1, 1]);
  // The "batches" are their own indices: batch 1 is the second step's.
  const data = { batchesPerEpoch: 3, async *epoch() { yield 0; yield 1; yield 2; } };
  const outcomes = await Promise.allSettled(pgs.map((pg, rank) => fit({
    model: models[rank]!, optimizer: new SGD(models[rank]!.parameters(), { lr: 0.1 }), data, strategy: new DdpStrategy(pg),
    // Rank 1's second batch is poisoned; rank 0's data is fine.
    loss: (m, batchIndex) => (rank === 1 && batchIndex === 1 ? mseLoss(m.forward(tensor([NaN, 2], [1, 2])), y) : mseLoss(m.forward(x), y)),
    samplesIn: () => 1,
  })));
  for (const o of outcomes) {
    assert.equal(o.status, "rejected");
    const err = (o as PromiseRejectedResult).reason as NonFiniteLossError;
    assert.ok(err instanceof NonFiniteLossError, String(err));
    assert.equal(err.step, 2, "steps count from 1, as in the metrics");
    assert.match(err.message, /at step 2 \(averaged over 2 ranks\); no update was applied/);
  }
  // Step 0 was applied on both ranks (identically), step 1 on neither.
  const after = models.map((m) => m.parameters().map((p) => p.dense().slice()));
  assert.deepEqual(after[0], after[1]);
  assert.notDeepEqual(after[0], before[0]);
});

test("a run resumed from its checkpoint ends exactly where the uninterrupted run ends", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-fit-"));
  const s = settings(32, 6);
  const { DataLoader } = await import("../../src/data/index.js");
  const { train, collate } = mnist.data(s);
  const data = new DataLoader(train, { batchSize: 32, collate, seed: 5, shuffle: true });
  const schedule = mnist.schedule(s, 6);
  const fresh = () => {
    manualSeed(5);
    const model = mnist.model(s);
    return { model, optimizer: mnist.optimizer(model, s), data, schedule, loss: mnist.loss, samplesIn: mnist.samplesIn };
  };
  try {
    const path = join(dir, "ckpt.safetensors");
    const whole = fresh();
    const wholeLosses: number[] = [];
    await fit({ ...whole, maxSteps: 6, onStep: (i) => wholeLosses.push(i.loss) });
    // "Interrupted" after 3 steps, with the same schedule, then resumed by a new model and optimizer.
    await fit({ ...fresh(), maxSteps: 3, checkpoint: { path } });
    const resumed = fresh();
    const resumedLosses: number[] = [];
    const r = await fit({ ...resumed, maxSteps: 6, resumeFrom: path, onStep: (i) => resumedLosses.push(i.loss) });
    assert.equal(r.steps, 3);
    assert.equal(r.final_step, 6);
    assert.deepEqual(resumedLosses, wholeLosses.slice(3));
    assert.deepEqual(resumed.model.parameters().map((p) => [...p.dense()]), whole.model.parameters().map((p) => [...p.dense()]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a resume with another batch size, on the same or another number of ranks, is refused, naming both", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-fit-"));
  try {
    const path = join(dir, "ckpt.safetensors");
    manualSeed(0);
    const model = new Linear(1, 1);
    const batches = (n: number) => ({ batchesPerEpoch: n, async *epoch(_e: number, from = 0) { for (let i = from; i < n; i++) yield i; } });
    const base = { model, optimizer: new SGD(model.parameters(), { lr: 0.1 }), loss: () => mseLoss(model.forward(tensor([1], [1, 1])), tensor([0], [1, 1])), samplesIn: () => 1 };
    await fit({ ...base, data: batches(4), checkpoint: { path } });
    await assert.rejects(fit({ ...base, data: batches(8), resumeFrom: path }), /written by 1 rank\(s\) with 4 batches per epoch, this run has 1 with 8; resume with the same number of workers and batch size/);
    const pgs = createInProcessGroups(2);
    const rejected = await Promise.allSettled(pgs.map((pg) => fit({ ...base, data: batches(4), strategy: new DdpStrategy(pg), resumeFrom: path })));
    // 4 batches per epoch on one rank would be 2 on each of 2 ranks with the same batch size, not 4 (Note [resuming on another worker count]).
    for (const r of rejected) assert.match(String((r as PromiseRejectedResult).reason), /written with 4 batches per epoch on 1 rank\(s\), which is not this run's batch size on 2; resume with the batch size it was written with/);
    await Promise.all(pgs.map((pg) => pg.destroy()));
    // A checkpoint fit() cannot write is refused before the first step, not after the last.
    let steps = 0;
    await assert.rejects(
      fit({ ...base, data: batches(4), checkpoint: { path: join(dir, "no", "such", "dir", "c.safetensors") }, onStep: () => steps++ }),
      /cannot write the checkpoint .*does not exist or is not writable/,
    );
    assert.equal(steps, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("after a DDP run the model trains again under a new strategy: the old hooks are gone", async () => {
  const pgs = createInProcessGroups(2);
  const models = pgs.map(() => (manualSeed(0), new Linear(2, 1)));
  const data = { batchesPerEpoch: 2, async *epoch() { yield 0; yield 1; } };
  const run = (strategyOf: (rank: number) => Strategy) => Promise.all(pgs.map((_, rank) => fit({
    model: models[rank]!, optimizer: new SGD(models[rank]!.parameters(), { lr: 0.1 }), data, strategy: strategyOf(rank),
    loss: (m) => mseLoss(m.forward(tensor([rank, 1], [1, 2])), tensor([1], [1, 1])), samplesIn: () => 1,
  })));
  const first = await run((rank) => new DdpStrategy(pgs[rank]!));
  assert.equal(first[0]!.strategy.digest, first[1]!.strategy.digest);
  // Each rank on its own now: no collective may be issued by a leftover hook.
  let calls = 0;
  for (const pg of pgs) {
    const original = pg.allReduceAsync.bind(pg);
    pg.allReduceAsync = ((...args: Parameters<typeof original>) => (calls++, original(...args))) as typeof pg.allReduceAsync;
  }
  await run(() => new SingleStrategy());
  assert.equal(calls, 0, "a detached DDP issued collectives");
  // And a second DDP run on the same models works.
  const third = await run((rank) => new DdpStrategy(pgs[rank]!));
  assert.equal(third[0]!.strategy.digest, third[1]!.strategy.digest);
  await Promise.all(pgs.map((pg) => pg.destroy()));
});

test("fit refuses a budget that is not a positive whole number", async () => {
  manualSeed(0);
  const model = new Linear(1, 1);
  const data = { batchesPerEpoch: 1, async *epoch() { yield 0; } };
  const base = { model, optimizer: new SGD(model.parameters(), { lr: 0.1 }), data, loss: () => mseLoss(model.forward(tensor([1], [1, 1])), tensor([0], [1, 1])), samplesIn: () => 1 };
  await assert.rejects(fit({ ...base, epochs: 0 }), /epochs must be an integer >= 1, got 0/);
  await assert.rejects(fit({ ...base, epochs: 1.5 }), /epochs must be an integer >= 1, got 1.5/);
  await assert.rejects(fit({ ...base, maxSteps: -1 }), /maxSteps must be an integer >= 1, got -1/);
});

/** A strategy whose step computes for about `computeMs` (busy) and reports `waitMs` of it as waiting. */
function busyStrategy(computeMs: number, waitMs = 0): Strategy {
  return new (class extends SingleStrategy {
    override async step(input: Parameters<Strategy["step"]>[0]) {
      const outcome = await super.step(input);
      const until = performance.now() + computeMs;
      while (performance.now() < until);
      return { ...outcome, waitMs, metrics: { extra: 7 } };
    }
  })();
}

function tinyRun(extra: Partial<Parameters<typeof fit<number>>[0]>) {
  manualSeed(0);
  const model = new Linear(1, 1);
  const data = { batchesPerEpoch: 2, async *epoch(_e: number, from = 0) { for (let b = from; b < 2; b++) yield b; } };
  return fit({
    model, optimizer: new SGD(model.parameters(), { lr: 0.1 }), data, epochs: 3, samplesIn: () => 1,
    loss: (m) => {
      assert.equal(m.training, true, "a step ran with the model in evaluation mode");
      return mseLoss(m.forward(tensor([1], [1, 1])), tensor([0], [1, 1]));
    },
    ...extra,
  });
}

test("a slowed rank sleeps (slowdown - 1) x its compute after each step, waiting excluded", async () => {
  const times: number[] = [];
  const result = await tinyRun({ strategy: busyStrategy(6, 2), slowdown: 3, epochs: 1, onStep: (i) => times.push(i.computeMs + i.waitMs) });
  // compute 4 ms (6 busy minus 2 reported as waiting) slowed 3x is 12 ms of compute, plus the 2 waited.
  for (const t of times) assert.ok(t >= 6 + 2 * 4 - 1, `a step took ${t} ms, less than the slowdown asks`);
  assert.ok(result.step_ms_mean >= 13 && result.step_ms_p90 >= 13, `mean ${result.step_ms_mean} ms, p90 ${result.step_ms_p90} ms`);
  await assert.rejects(tinyRun({ slowdown: 0.5 }), /slowdown must be a number >= 1 \(1 is full speed\), got 0.5/);
});

test("evaluateEvery writes an eval line per epoch into the metrics, and the steps go on in training mode", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-fit-eval-"));
  try {
    const metrics = new MetricsWriter({ runDir: dir, rank: 0 });
    let evaluations = 0;
    const result = await tinyRun({
      strategy: busyStrategy(0), metrics, evaluateEvery: 1,
      evaluate: (m) => {
        m.eval();
        return { score: ++evaluations };
      },
    });
    metrics.close();
    const lines = readFileSync(join(dir, "rank-0.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, number | string>);
    const evals = lines.filter((l) => l.event === "eval");
    // Epochs 0 and 1 in between, and the final evaluation (the result's) after epoch 2.
    assert.deepEqual(evals.map((e) => [e.epoch, e.step, e.score]), [[0, 2, 1], [1, 4, 2], [2, 6, 3]]);
    assert.deepEqual(result.evaluation, { score: 3 });
    const walls = evals.map((e) => e.wall_s as number);
    assert.deepEqual([...walls].sort((a, b) => a - b), walls, "eval times go forward");
    const steps = lines.filter((l) => l.event === undefined);
    assert.equal(steps.length, 6);
    for (const s of steps) {
      assert.equal(s.extra, 7, "the strategy's own step metrics are in the line");
      assert.equal(s.bytes_sent, 0);
      assert.equal(typeof s.wall_s, "number");
    }
    assert.deepEqual(result.traffic, { sent: 0, received: 0 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("steps a strategy skipped count no samples, time or metrics line, and the run still ends at its budget", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-fit-skip-"));
  try {
    const metrics = new MetricsWriter({ runDir: dir, rank: 0 });
    const trained: number[] = [];
    const skipping = new (class extends SingleStrategy {
      override async step(input: Parameters<Strategy["step"]>[0]) {
        if (input.step > 2) return { loss: NaN, commMs: 0, waitMs: 0, skipped: true };
        trained.push(input.step);
        return super.step(input);
      }
    })();
    const result = await tinyRun({ strategy: skipping, metrics, onStep: (i) => assert.ok(i.step <= 2, `onStep for skipped step ${i.step}`) });
    metrics.close();
    assert.deepEqual(trained, [1, 2]);
    assert.equal(result.final_step, 6);
    assert.ok(Number.isFinite(result.train_loss), "the last trained step's loss, not a skipped one's");
    const lines = readFileSync(join(dir, "rank-0.jsonl"), "utf8").trim().split("\n");
    assert.equal(lines.length, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
