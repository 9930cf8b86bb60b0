// Local SGD / DiLoCo on in-process groups: K = 1 with plain SGD inside and outer SGD at lr 1 is
// DDP with the same SGD; K = 4 equals a single-process simulation of the algorithm (sgd and
// nesterov outer steps); replicas are bitwise equal after every sync and apart between syncs;
// finish() syncs a last partial round; rounds end at the steps whose number is a multiple of K,
// so a resumed run syncs where the uninterrupted one did; K syncs move about K times fewer bytes;
// bad options.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createInProcessGroups } from "../../../src/distributed/group/in-process-group.js";
import { DdpStrategy } from "../../../src/distributed/strategies/ddp-strategy.js";
import { FlatState } from "../../../src/distributed/strategies/flat-state.js";
import { LocalSgdStrategy, type LocalSgdOptions } from "../../../src/distributed/strategies/local-sgd.js";
import { OuterOptimizer } from "../../../src/distributed/strategies/outer-optimizer.js";
import type { Strategy } from "../../../src/distributed/strategies/strategy.js";
import { Sequential } from "../../../src/nn/index.js";
import { Adam, SGD, type Optimizer } from "../../../src/optim/index.js";
import { flatParameters, maxDiff, toyModel, toyTask } from "../helpers/toy-training.js";

const model = toyModel;
const { batch, lossOf } = toyTask(500);
const flat = flatParameters;

/** Sets up `make(pg)` on n ranks (different initial models: set-up must broadcast rank 0's) and runs `steps` steps. */
async function train(n: number, steps: number, make: (pg: ReturnType<typeof createInProcessGroups>[number]) => Strategy, opt: (m: Sequential) => Optimizer, finish = true) {
  const pgs = createInProcessGroups(n);
  const models = pgs.map((_, r) => model(10 + r));
  const strategies = pgs.map(make);
  await Promise.all(strategies.map((s, r) => s.setup(models[r]!, opt(models[r]!))));
  const sentAtStart = strategies[0]!.traffic().sent;
  const digests: string[][] = [];
  for (let t = 1; t <= steps; t++) {
    await Promise.all(strategies.map((s, r) => s.step({ step: t, forward: () => lossOf(models[r]!, r, t) })));
    digests.push(strategies.map((s) => s.report().digest as string));
  }
  if (finish) await Promise.all(strategies.map((s) => s.finish()));
  const sent = strategies[0]!.traffic().sent - sentAtStart;
  await Promise.all(strategies.map((s) => s.end()));
  await Promise.all(pgs.map((pg) => pg.destroy()));
  return { models, strategies, digests, sent };
}

const sgd = (m: Sequential): Optimizer => new SGD(m.parameters(), { lr: 0.1 });
const adam = (m: Sequential): Optimizer => new Adam(m.parameters(), { lr: 0.01 });

test("K = 1, plain SGD inside and outer SGD at lr 1, equals DDP with the same SGD on the same batches", async () => {
  const local = await train(3, 6, (pg) => new LocalSgdStrategy(pg, { syncEvery: 1, outerOptimizer: "sgd", outerLr: 1 }), sgd);
  const ddp = await train(3, 6, (pg) => new DdpStrategy(pg), sgd);
  // Tolerance: DDP steps x - lr·mean(g); local SGD computes each x - lr·g_r, takes the deltas
  // x - (x - lr·g_r) (not exactly lr·g_r in float32), averages them and steps by the mean. The
  // same quantity rounded differently: a few float32 ulps of the parameters (|x| < 1) per step.
  const d = maxDiff(flat(local.models[0]!), flat(ddp.models[0]!));
  assert.ok(d < 1e-5, `local SGD K=1 and DDP differ by ${d}`);
  assert.ok(local.digests.every((step) => step.every((h) => h === step[0])), "replicas equal after every step");
});

/**
 * Local SGD / DiLoCo in one process, written from the algorithm: every replica starts from the
 * same parameters; each takes its inner optimizer's steps on its own batches; after every K steps
 * (and at the end) Δ = x_global - mean(x_r), the outer step x_global -= lr·Δ (sgd) or
 * m = 0.9 m + Δ; x_global -= lr·(Δ + 0.9 m) (nesterov), and every replica becomes x_global.
 */
function simulate(n: number, steps: number, k: number, outer: "sgd" | "nesterov", lr: number): Float32Array {
  const models = Array.from({ length: n }, () => model(10));
  const opts = models.map(adam);
  let global = Float64Array.from(flat(models[0]!));
  let momentum: Float64Array | null = null;
  const sync = (): void => {
    const xs = models.map(flat);
    const delta = global.map((g, i) => g - xs.reduce((s, x) => s + x[i]!, 0) / n);
    if (outer === "sgd") global = global.map((g, i) => g - lr * delta[i]!);
    else {
      momentum = momentum === null ? Float64Array.from(delta) : momentum.map((m, i) => 0.9 * m + delta[i]!);
      global = global.map((g, i) => g - lr * (delta[i]! + 0.9 * momentum![i]!));
    }
    for (const m of models) new FlatState(m).write(Float32Array.from(global));
  };
  for (let t = 1; t <= steps; t++) {
    models.forEach((m, r) => {
      opts[r]!.zeroGrad();
      lossOf(m, r, t).backward();
      opts[r]!.step();
    });
    if (t % k === 0) sync();
  }
  if (steps % k !== 0) sync();
  return flat(models[0]!);
}

for (const [outer, lr] of [["sgd", 1], ["sgd", 0.5], ["nesterov", 0.7]] as const) {
  test(`K = 4 with outer ${outer} at lr ${lr} equals a single-process simulation, over two rounds and a partial one`, async () => {
    const options: LocalSgdOptions = { syncEvery: 4, outerOptimizer: outer, outerLr: lr };
    const run = await train(3, 10, (pg) => new LocalSgdStrategy(pg, options), adam);
    const expected = simulate(3, 10, 4, outer, lr);
    // Tolerance: the simulation averages in float64, the all-reduce in float32 (and the outer
    // step rounds to float32 each round): differences of a few ulps, 1e-5 of parameters < 1.
    const d = maxDiff(flat(run.models[0]!), expected);
    assert.ok(d < 1e-5, `${outer}: strategy and simulation differ by ${d}`);
    // Replicas are bitwise equal after steps 4 and 8, apart in between, and equal after finish().
    run.digests.forEach((step, i) => {
      const same = step.every((h) => h === step[0]);
      assert.equal(same, (i + 1) % 4 === 0, `after step ${i + 1}`);
    });
    const reports = run.strategies.map((s) => s.report());
    assert.ok(reports.every((r) => r.digest === reports[0]!.digest && r.syncs === 3), "finish() synced the partial round");
    run.models.forEach((m) => assert.deepEqual(flat(m), flat(run.models[0]!)));
  });
}

test("a step that syncs says so in its metrics, with the mean change's norm", async () => {
  const pgs = createInProcessGroups(2);
  const models = pgs.map((_, r) => model(r));
  const strategies = pgs.map((pg) => new LocalSgdStrategy(pg, { syncEvery: 2 }));
  await Promise.all(strategies.map((s, r) => s.setup(models[r]!, sgd(models[r]!))));
  const metrics = [];
  for (let t = 1; t <= 4; t++) metrics.push((await Promise.all(strategies.map((s, r) => s.step({ step: t, forward: () => lossOf(models[r]!, r, t) }))))[0]!.metrics!);
  assert.deepEqual(metrics.map((m) => m.synced), [0, 1, 0, 1]);
  assert.ok((metrics[1]!.delta_norm as number) > 0 && metrics[0]!.delta_norm === undefined);
  await Promise.all(strategies.map((s) => s.finish())); // nothing left to sync
  assert.equal(strategies[0]!.report().syncs, 2);
  await Promise.all(pgs.map((pg) => pg.destroy()));
});

/**
 * Steps `first`..`last` on two ranks with K = 4 and plain SGD inside (no state a checkpoint would
 * need to carry), each rank starting from `start[r]` when given (as a resumed run starts from its
 * checkpoint), then finish(). Returns the steps that synced, the syncs reported and the
 * replicas after each step.
 */
async function stepsFrom(first: number, last: number, start?: readonly Float32Array[]) {
  const pgs = createInProcessGroups(2);
  const models = pgs.map((_, r) => model(10 + r));
  if (start) models.forEach((m, r) => new FlatState(m).write(start[r]!));
  const strategies = pgs.map((pg) => new LocalSgdStrategy(pg, { syncEvery: 4 }));
  await Promise.all(strategies.map((s, r) => s.setup(models[r]!, sgd(models[r]!))));
  const synced: number[] = [];
  const after = new Map<number, Float32Array[]>();
  for (let t = first; t <= last; t++) {
    const outcomes = await Promise.all(strategies.map((s, r) => s.step({ step: t, forward: () => lossOf(models[r]!, r, t) })));
    assert.ok(outcomes.every((o) => o.metrics!.synced === outcomes[0]!.metrics!.synced), `the ranks agree at step ${t}`);
    if (outcomes[0]!.metrics!.synced === 1) synced.push(t);
    after.set(t, models.map(flat));
  }
  await Promise.all(strategies.map((s) => s.finish()));
  const syncs = strategies[0]!.report().syncs;
  const final = models.map(flat);
  await Promise.all(strategies.map((s) => s.end()));
  await Promise.all(pgs.map((pg) => pg.destroy()));
  return { synced, syncs, after, final };
}

test("rounds end at the steps whose number is a multiple of K: a run resumed at step 6 syncs at steps 8 and 12, as the uninterrupted run does", async () => {
  const whole = await stepsFrom(1, 12);
  assert.deepEqual(whole.synced, [4, 8, 12]);
  assert.equal(whole.syncs, 3, "step 12 ended a round: nothing left for finish()");
  // Resumed from rank 0's replica after step 6 (what a checkpoint holds): the rest of the round
  // that step 6 was in (steps 7 and 8), then a whole one.
  const resumed = await stepsFrom(7, 12, [whole.after.get(6)![0]!, whole.after.get(6)![0]!]);
  assert.deepEqual(resumed.synced, [8, 12]);
  assert.equal(resumed.syncs, 2);
  // Stopped at step 10, not a multiple of K: finish() syncs the partial round (steps 9 and 10).
  const short = await stepsFrom(7, 10, [whole.after.get(6)![0]!, whole.after.get(6)![0]!]);
  assert.deepEqual(short.synced, [8]);
  assert.equal(short.syncs, 2);
  assert.equal(new Set(short.final.map((x) => x.join())).size, 1, "finish() left the replicas equal");
});

test("a run resumed right after a sync (step 8, the checkpoint holding x_global) ends bitwise equal to the uninterrupted run", async () => {
  const whole = await stepsFrom(1, 12);
  const resumed = await stepsFrom(9, 12, whole.after.get(8)!);
  assert.deepEqual(resumed.synced, [12]);
  resumed.final.forEach((x, r) => assert.deepEqual(x, whole.final[r], `rank ${r}`));
});

test("syncing every 4 steps moves about a quarter of DDP's bytes", async () => {
  const local = await train(2, 8, (pg) => new LocalSgdStrategy(pg, { syncEvery: 4 }), sgd, false);
  const ddp = await train(2, 8, (pg) => new DdpStrategy(pg), sgd, false);
  // 2 all-reduces of the parameters against 8 (and DDP's 8 one-float loss all-reduces, whose
  // frame headers are most of the rest on a model this small: 163 floats).
  const ratio = local.sent / ddp.sent;
  assert.ok(ratio > 0.2 && ratio <= 0.25, `local SGD sent ${local.sent} bytes, DDP ${ddp.sent} (ratio ${ratio})`);
});

test("the outer optimizers: sgd steps by lr·Δ; nesterov keeps DiLoCo's momentum 0.9 and defaults to lr 0.7", () => {
  const g1 = Float32Array.of(1);
  new OuterOptimizer(g1, "sgd", 0.5).step(Float32Array.of(2));
  assert.deepEqual([...g1], [0]);
  const g2 = Float32Array.of(0);
  const nesterov = new OuterOptimizer(g2, "nesterov");
  assert.equal(nesterov.lr, 0.7);
  nesterov.step(Float32Array.of(1)); // m = 1; step 0.7·(1 + 0.9) = 1.33
  assert.ok(Math.abs(g2[0]! + 1.33) < 1e-6, `${g2[0]}`);
  nesterov.step(Float32Array.of(1)); // m = 1.9; step 0.7·(1 + 1.71) = 1.897
  assert.ok(Math.abs(g2[0]! + 1.33 + 1.897) < 1e-5, `${g2[0]}`);
});

test("bad options are refused, naming what is allowed", () => {
  const [pg] = createInProcessGroups(1);
  assert.throws(() => new LocalSgdStrategy(pg!, { syncEvery: 0 }), /syncEvery must be an integer >= 1 \(1 syncs after every step\), got 0/);
  assert.throws(() => new LocalSgdStrategy(pg!, { syncEvery: 2.5 }), /syncEvery must be an integer >= 1/);
  assert.throws(() => new LocalSgdStrategy(pg!, { outerLr: 0 }), /outerLr must be a number above 0, got 0/);
  assert.throws(() => new LocalSgdStrategy(pg!, { outerLr: NaN }), /outerLr must be a number above 0, got NaN/);
  assert.throws(() => new LocalSgdStrategy(pg!, { outerOptimizer: "adam" as never }), /outerOptimizer must be one of sgd, nesterov, got "adam"/);
  assert.throws(() => new OuterOptimizer(new Float32Array(1), "sgd", -1), /outer learning rate must be a number above 0, got -1/);
});
