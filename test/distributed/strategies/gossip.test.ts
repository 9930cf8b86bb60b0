// Gossip on in-process groups (N ranks in this process, the same engine and algorithms as over
// TCP): the synchronous schedule is D-PSGD, equal to a single-process simulation of it on the same
// seeds and batches; the asynchronous schedule converges and ends with one averaged model; a rank
// held back does not hold the others back (while the synchronous schedule does) and skips the
// steps left once the run is over; a lost rank is a PeerLostError for its neighbours; a quiet
// channel alone fails nothing, while finish() still waits under the channel deadline; the
// consensus distance is over the parameters only; commMs leaves out the optimizer step; bad
// options are refused.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CollectiveTimeoutError, PeerLostError } from "../../../src/distributed/base/errors.js";
import { createInProcessGroups } from "../../../src/distributed/group/in-process-group.js";
import type { ProcessGroup } from "../../../src/distributed/group/process-group.js";
import { FlatState } from "../../../src/distributed/strategies/flat-state.js";
import { GossipStrategy, type GossipOptions } from "../../../src/distributed/strategies/gossip.js";
import { gossipSources, GOSSIP_TOPOLOGIES, type GossipTopology } from "../../../src/distributed/strategies/gossip-topology.js";
import type { StepOutcome } from "../../../src/distributed/strategies/strategy.js";
import { InProcessHub } from "../../../src/distributed/transport/in-process-transport.js";
import { BatchNorm, Linear, manualSeed, ReLU, Sequential } from "../../../src/nn/index.js";
import { Adam, SGD, type Optimizer } from "../../../src/optim/index.js";
import { mseLoss, randn, Tensor, type Tensor as T } from "../../../src/tensor/index.js";
import { Rng } from "../../../src/util/rng.js";
import { flatParameters, maxDiff, toyModel, toyTask } from "../helpers/toy-training.js";

const model = toyModel;
const { batch, lossOf } = toyTask(1000);
const flat = flatParameters;

/**
 * D-PSGD in one process, written from the algorithm rather than from gossip.ts: every replica
 * starts from the same parameters; each step every replica takes its gradient at x_t, the
 * replicas are averaged with this step's sources, x ← (x + Σ x_sources) / (1 + k), then each
 * replica's optimizer steps on the mixed parameters with x_t's gradient.
 */
function simulateDpsgd(topology: GossipTopology, n: number, steps: number, seed: number, makeOpt: (m: Sequential) => Optimizer): Sequential[] {
  const models = Array.from({ length: n }, () => model(10));
  const opts = models.map(makeOpt);
  for (let t = 1; t <= steps; t++) {
    models.forEach((m, r) => {
      opts[r]!.zeroGrad();
      lossOf(m, r, t).backward();
    });
    const xs = models.map(flat);
    models.forEach((m, r) => {
      const sources = gossipSources(topology, r, n, t, seed);
      const mixed = xs[r]!.map((v, i) => {
        let s = v;
        for (const src of sources) s += xs[src]![i]!;
        return s / (1 + sources.length);
      });
      new FlatState(m).write(mixed);
    });
    opts.forEach((o) => o.step());
  }
  return models;
}

async function gossipRanks(pgs: ProcessGroup[], options: GossipOptions, makeOpt: (m: Sequential) => Optimizer) {
  // Different initialisations: setup must make them rank 0's (model(10)).
  const models = pgs.map((_, r) => model(10 + r));
  const strategies = pgs.map((pg) => new GossipStrategy(pg, options));
  await Promise.all(strategies.map((s, r) => s.setup(models[r]!, makeOpt(models[r]!))));
  return { models, strategies };
}

const adam = (m: Sequential): Optimizer => new Adam(m.parameters(), { lr: 0.01 });

for (const topology of GOSSIP_TOPOLOGIES) {
  test(`synchronous ${topology} gossip equals a single-process D-PSGD simulation on the same seeds and batches`, async () => {
    const n = 4, steps = 6, seed = 5;
    const pgs = createInProcessGroups(n);
    const { models, strategies } = await gossipRanks(pgs, { topology, seed, schedule: "synchronous" }, adam);
    for (let t = 1; t <= steps; t++) {
      const outcomes = await Promise.all(strategies.map((s, r) => s.step({ step: t, forward: () => lossOf(models[r]!, r, t) })));
      assert.ok(outcomes.every((o) => o.metrics!.mixed === (topology === "ring" ? 2 : 1)));
    }
    const expected = simulateDpsgd(topology, n, steps, seed, adam);
    // Tolerance: the same float64 sums rounded to float32 in the same order, and the same Adam
    // arithmetic, so the two agree to the last bit in practice; 1e-6 leaves room for a kernel
    // that rounds its multiply-add differently, far below the replicas' distance (~1e-2).
    const before = models.map(flat);
    models.forEach((m, r) => assert.ok(maxDiff(before[r]!, flat(expected[r]!)) <= 1e-6, `${topology} rank ${r}: ${maxDiff(before[r]!, flat(expected[r]!))}`));
    // The consensus distance of those replicas, computed here from the simulation.
    const mean = new Float32Array(before[0]!.length);
    for (const x of before) x.forEach((v, i) => (mean[i]! += v / n));
    const rms = Math.sqrt(before.reduce((s, x) => s + x.reduce((a, v, i) => a + (v - mean[i]!) ** 2, 0), 0) / n);
    await Promise.all(strategies.map((s) => s.finish()));
    const reports = strategies.map((s) => s.report());
    const reported = reports[0]!.consensus_distance as number;
    assert.ok(rms > 1e-3, `the replicas should have drifted apart: ${rms}`);
    assert.ok(Math.abs(reported - rms) < 1e-4 * rms, `consensus distance ${reported}, by hand ${rms}`);
    assert.ok(reports.every((r) => r.digest === reports[0]!.digest && r.averaged === true), "finish() averages the replicas into one");
    models.forEach((m) => assert.ok(maxDiff(flat(m), mean) < 1e-6));
    await Promise.all(strategies.map((s) => s.end()));
    await Promise.all(pgs.map((pg) => pg.destroy()));
  });
}

test("the synchronous schedule's mixing keeps the replicas' mean: averaging is doubly stochastic in lockstep", async () => {
  // Plain SGD with lr 0 isolates the mixing: the mean of the replicas must not move.
  const pgs = createInProcessGroups(4);
  const { models, strategies } = await gossipRanks(pgs, { topology: "ring", schedule: "synchronous" }, (m) => new SGD(m.parameters(), { lr: 0 }));
  // Make the replicas differ after set-up (set-up broadcast rank 0's), then mix for a few steps.
  models.forEach((m, r) => m.parameters().forEach((p) => p.data.forEach((v, i) => (p.data[i] = v + r))));
  const mean0 = models.map(flat).reduce((acc, x) => acc.map((v, i) => v + x[i]! / 4), new Float32Array(flat(models[0]!).length));
  for (let t = 1; t <= 5; t++) await Promise.all(strategies.map((s, r) => s.step({ step: t, forward: () => lossOf(models[r]!, r, t) })));
  const mean5 = models.map(flat).reduce((acc, x) => acc.map((v, i) => v + x[i]! / 4), new Float32Array(mean0.length));
  assert.ok(maxDiff(mean0, mean5) < 1e-5, `the mean moved by ${maxDiff(mean0, mean5)}`);
  await Promise.all(strategies.map((s) => s.finish()));
  assert.ok((strategies[0]!.report().consensus_distance as number) < 0.5, "five ring rounds contracted the spread (it started at ~1.1 per float)");
  await Promise.all(strategies.map((s) => s.end()));
  await Promise.all(pgs.map((pg) => pg.destroy()));
});

/** A linear regression every rank can learn: y = A x, each rank with its own samples. */
function regression(r: number, t: number): { x: T; y: T } {
  const rng = new Rng(77 + r).fork(t);
  const x = randn([16, 4], rng);
  const a = [1, -2, 0.5, 3, -1, 0, 2, 1];
  const y = new Float32Array(32);
  for (let i = 0; i < 16; i++) for (let j = 0; j < 2; j++) for (let k = 0; k < 4; k++) y[i * 2 + j]! += a[j * 4 + k]! * x.data[i * 4 + k]!;
  return { x, y: new Tensor(y, [16, 2]) };
}

for (const topology of GOSSIP_TOPOLOGIES) {
  test(`asynchronous ${topology} gossip: each rank at its own pace learns the shared model, and finish() averages the replicas`, async () => {
    const n = 4, steps = 150;
    const pgs = createInProcessGroups(n);
    manualSeed(3);
    const models = pgs.map(() => new Linear(4, 2));
    const strategies = pgs.map((pg) => new GossipStrategy(pg, { topology }));
    await Promise.all(strategies.map((s, r) => s.setup(models[r]!, new SGD(models[r]!.parameters(), { lr: 0.05 }))));
    const losses = await Promise.all(strategies.map(async (s, r) => {
      let last = NaN;
      for (let t = 1; t <= steps; t++) {
        const b = regression(r, t);
        last = (await s.step({ step: t, forward: () => mseLoss(models[r]!.forward(b.x), b.y) })).loss;
      }
      await s.finish();
      return last;
    }));
    assert.ok(losses.every((l) => l < 1e-3), `final losses ${losses}`);
    const reports = strategies.map((s) => s.report());
    assert.ok(reports.every((r) => r.digest === reports[0]!.digest), "one model after finish()");
    assert.ok((reports[0]!.consensus_distance as number) < 0.05, `consensus distance ${reports[0]!.consensus_distance}`);
    assert.ok(reports.every((r) => (r.gossip_arrivals_mixed as number) > 0));
    const b = regression(9, 1);
    assert.ok(mseLoss(models[0]!.forward(b.x), b.y).item() < 1e-3, "the averaged model fits unseen samples");
    await Promise.all(strategies.map((s) => s.end()));
    await Promise.all(pgs.map((pg) => pg.destroy()));
  });
}

/**
 * Runs `steps` steps on every rank; rank `slow` stops after its first step until every other rank
 * has finished all of its steps. Returns, for each other rank, how many steps the slow rank had
 * taken when that rank took its last step (or `blocked` when it could not get there).
 */
async function holdOneRank(schedule: "async" | "synchronous", steps: number, slow: number) {
  const n = 4;
  const pgs = createInProcessGroups(n);
  const { models, strategies } = await gossipRanks(pgs, { topology: "ring", schedule }, (m) => new SGD(m.parameters(), { lr: 0.05 }));
  const done = Array.from({ length: n }, () => 0);
  const outcomes: StepOutcome[][] = strategies.map(() => []);
  const slowStepsWhenDone: number[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const runs = strategies.map(async (s, r) => {
    for (let t = 1; t <= steps; t++) {
      if (r === slow && t === 2) await gate;
      outcomes[r]!.push(await s.step({ step: t, forward: () => lossOf(models[r]!, r, t) }));
      done[r] = t;
      if (r !== slow && t === steps) {
        slowStepsWhenDone[r] = done[slow]!;
        if (slowStepsWhenDone.filter((v) => v !== undefined).length === n - 1) release();
      }
    }
    await s.finish();
  });
  // Give the others every chance to get ahead: many turns of the event loop (in-process frames
  // are delivered one turn after they are sent), no clock involved.
  for (let i = 0; i < 2000 && slowStepsWhenDone.filter((v) => v !== undefined).length < n - 1; i++) await new Promise((resolve) => setImmediate(resolve));
  const stepsWhileHeld = [...done];
  release();
  await Promise.all(runs);
  const reports = strategies.map((s) => s.report());
  await Promise.all(strategies.map((s) => s.end()));
  await Promise.all(pgs.map((pg) => pg.destroy()));
  return { stepsWhileHeld, slowStepsWhenDone, reports, outcomes };
}

test("asynchronous gossip does not wait for a rank that is held back: the others take all their steps while it has taken one", async () => {
  const { stepsWhileHeld, slowStepsWhenDone, reports, outcomes } = await holdOneRank("async", 30, 1);
  assert.deepEqual(stepsWhileHeld, [30, 1, 30, 30]);
  assert.deepEqual(slowStepsWhenDone.filter((v) => v !== undefined), [1, 1, 1]);
  // The run was over when the others were done (Note [the end of a gossip run]): the held rank
  // skipped the steps it had left, and the run still ended as one model.
  assert.equal(reports[1]!.steps_skipped, 29);
  // Each skipped step says so in StepOutcome.skipped, the field fit reads (it then counts no
  // samples, time or metrics line for it), with the last loss this rank computed.
  const [first, ...rest] = outcomes[1]!;
  assert.equal(first!.skipped, undefined);
  assert.deepEqual(rest, Array.from({ length: 29 }, () => ({ loss: first!.loss, commMs: 0, waitMs: 0, skipped: true })));
  assert.ok(outcomes.every((o, r) => r === 1 || o.every((x) => x.skipped === undefined)), "the others trained every step");
  assert.ok(reports.every((r) => r.digest === reports[0]!.digest));
  assert.ok(Number.isFinite(reports[0]!.consensus_distance as number));
});

test("by contrast the synchronous schedule waits: a held rank stops its neighbours at step 1 and the rank beyond them at step 2", async () => {
  const { stepsWhileHeld, reports } = await holdOneRank("synchronous", 30, 1);
  assert.deepEqual(stepsWhileHeld, [1, 1, 1, 2]);
  assert.ok(reports.every((r) => r.digest === reports[0]!.digest), "released, everyone finished");
});

test("a lost rank is a PeerLostError for its neighbours' next step, and for the other ranks' finish()", async () => {
  const hub = new InProcessHub(4);
  const pgs = createInProcessGroups(4, { hub });
  const { models, strategies } = await gossipRanks(pgs, { topology: "ring" }, (m) => new SGD(m.parameters(), { lr: 0.05 }));
  const step = (r: number, t: number) => strategies[r]!.step({ step: t, forward: () => lossOf(models[r]!, r, t) });
  for (let t = 1; t <= 3; t++) await Promise.all([0, 1, 2, 3].map((r) => step(r, t)));
  hub.kill(2, "killed by the test");
  await new Promise((resolve) => setImmediate(resolve));
  for (const r of [1, 3]) await assert.rejects(step(r, 4), (err: Error) => err instanceof PeerLostError && /rank 2/.test(err.message), `rank ${r}`);
  // Rank 0 has no channel with rank 2: it trains on, and learns of the loss when it finishes,
  // where it waits for its neighbours, which failed and closed their channels (fit's end()).
  await step(0, 4);
  await Promise.all([1, 3].map((r) => strategies[r]!.end()));
  await assert.rejects(strategies[0]!.finish(), (err: Error) => err instanceof PeerLostError);
  await strategies[0]!.end();
  await Promise.all(pgs.map((pg) => pg.destroy()));
});

test("the consensus distance is over the parameters only, while buffers (batch norm's running statistics) are averaged with them", async () => {
  const n = 4;
  const pgs = createInProcessGroups(n);
  const bnModel = (seed: number): Sequential => {
    manualSeed(seed);
    return new Sequential(new Linear(6, 16), new BatchNorm(16), new ReLU(), new Linear(16, 3));
  };
  const models = pgs.map((_, r) => bnModel(10 + r));
  const strategies = pgs.map((pg) => new GossipStrategy(pg, { topology: "ring", schedule: "synchronous" }));
  await Promise.all(strategies.map((s, r) => s.setup(models[r]!, adam(models[r]!))));
  for (let t = 1; t <= 4; t++) await Promise.all(strategies.map((s, r) => s.step({ step: t, forward: () => lossOf(models[r]!, r, t) })));
  const p = new FlatState(models[0]!).parameterSize;
  const before = models.map(flat); // the parameters, then the buffers
  const mean = new Float32Array(before[0]!.length);
  for (const x of before) x.forEach((v, i) => (mean[i]! += v / n));
  const rms = (from: number, to: number): number => Math.sqrt(before.reduce((s, x) => s + x.subarray(from, to).reduce((a, v, i) => a + (v - mean[from + i]!) ** 2, 0), 0) / n);
  const overParameters = rms(0, p), overAll = rms(0, mean.length);
  // Each rank's running statistics come from its own batches: they are apart too, by enough that
  // counting them would show.
  assert.ok(overAll > 1.05 * overParameters, `with buffers ${overAll}, parameters only ${overParameters}`);
  await Promise.all(strategies.map((s) => s.finish()));
  const report = strategies[0]!.report();
  const meanNorm = Math.sqrt(mean.subarray(0, p).reduce((a, v) => a + v * v, 0));
  assert.ok(Math.abs((report.consensus_distance as number) - overParameters) < 1e-4 * overParameters, `consensus distance ${report.consensus_distance}, over the parameters by hand ${overParameters}`);
  assert.ok(Math.abs((report.consensus_distance_relative as number) - overParameters / meanNorm) < 1e-4 * (overParameters / meanNorm));
  models.forEach((m) => assert.ok(maxDiff(flat(m), mean) < 1e-6, "every replica, buffers included, is the mean"));
  await Promise.all(strategies.map((s) => s.end()));
  await Promise.all(pgs.map((pg) => pg.destroy()));
});

const sgd = (m: Sequential): Optimizer => new SGD(m.parameters(), { lr: 0.05 });
const settle = async (turns = 20): Promise<void> => {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
};

test("a quiet channel alone fails nothing: every rank paused for ten channel deadlines, then training goes on (posted receives and pushes have no deadline)", async (t) => {
  // The engine's deadlines are timers: mocked, the pause is a tick of the clock, not a wait.
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const pgs = createInProcessGroups(3);
  const { models, strategies } = await gossipRanks(pgs, { topology: "ring", channelTimeoutMs: 1000 }, sgd);
  const steps = (from: number, to: number) => Promise.all(strategies.map(async (s, r) => {
    for (let step = from; step <= to; step++) await s.step({ step, forward: () => lossOf(models[r]!, r, step) });
  }));
  await steps(1, 3);
  await settle(); // the last pushes land and their receives are posted again
  t.mock.timers.tick(10_000); // e.g. a long evaluation: nothing is sent for ten deadlines
  await settle();
  await steps(4, 6);
  await Promise.all(strategies.map((s) => s.finish()));
  const reports = strategies.map((s) => s.report());
  assert.ok(reports.every((r) => r.digest === reports[0]!.digest && r.steps_skipped === 0));
  await Promise.all(strategies.map((s) => s.end()));
  await Promise.all(pgs.map((pg) => pg.destroy()));
});

test("finish() still waits for its neighbours under the channel deadline: one alive but stopped is a CollectiveTimeoutError naming it", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const pgs = createInProcessGroups(2);
  const { models, strategies } = await gossipRanks(pgs, { topology: "ring", channelTimeoutMs: 1000 }, sgd);
  for (let step = 1; step <= 2; step++) await Promise.all(strategies.map((s, r) => s.step({ step, forward: () => lossOf(models[r]!, r, step) })));
  let settled = false;
  const finishing = strategies[0]!.finish().finally(() => (settled = true)); // rank 1 never finishes
  await settle();
  t.mock.timers.tick(999);
  await settle();
  assert.equal(settled, false, "not before the deadline");
  t.mock.timers.tick(1);
  await assert.rejects(finishing, (err: Error) => {
    assert.ok(err instanceof CollectiveTimeoutError, String(err));
    assert.match(err.message, /gossip finish\(\): rank 0 waited 1000 ms for its neighbours to finish: rank 1 never said done; check that they are alive/);
    assert.deepEqual(err.ranks, [1]);
    return true;
  });
  await Promise.all(strategies.map((s) => s.end()));
  await Promise.all(pgs.map((pg) => pg.destroy()));
});

// The synchronous schedule on one rank (on two, a rank's commMs would rightly include the time
// it waits while its peer's optimizer steps); the asynchronous one on two, one rank's step after
// the other's, so that only a rank's own optimizer step moves the clock during its step.
for (const [schedule, n] of [["async", 2], ["synchronous", 1]] as const) {
  test(`${schedule} schedule: commMs is the mix's time and the push's, not the optimizer step's between them`, async (t) => {
    // A clock that moves only inside the optimizer's step: one second per step.
    let clock = 0;
    t.mock.method(performance, "now", () => clock);
    const pgs = createInProcessGroups(n);
    let optimizerSteps = 0;
    const { models, strategies } = await gossipRanks(pgs, { topology: "ring", schedule }, (m) => {
      const opt = new SGD(m.parameters(), { lr: 0.05 });
      const step = opt.step.bind(opt);
      opt.step = () => {
        clock += 1000;
        optimizerSteps++;
        step();
      };
      return opt;
    });
    for (let step = 1; step <= 3; step++) {
      for (const [r, s] of strategies.entries()) {
        const o = await s.step({ step, forward: () => lossOf(models[r]!, r, step) });
        assert.deepEqual([o.commMs, o.waitMs], [0, 0], `rank ${r}, step ${step}`);
      }
    }
    assert.equal(optimizerSteps, 3 * n);
    if (n > 1) assert.ok(strategies.every((s) => (s.report().gossip_sends as number) > 0), "the pushes ran");
    await Promise.all(strategies.map((s) => s.finish()));
    await Promise.all(strategies.map((s) => s.end()));
    await Promise.all(pgs.map((pg) => pg.destroy()));
  });
}

test("gossip on one rank is plain training with a consensus distance of 0", async () => {
  const [pg] = createInProcessGroups(1);
  const m = model(1);
  const s = new GossipStrategy(pg!);
  await s.setup(m, new SGD(m.parameters(), { lr: 0.1 }));
  for (let t = 1; t <= 3; t++) assert.equal((await s.step({ step: t, forward: () => lossOf(m, 0, t) })).metrics!.mixed, 0);
  await s.finish();
  assert.equal(s.report().consensus_distance, 0);
  await s.end();
  await pg!.destroy();
});

test("bad options are refused, naming what is allowed", () => {
  const [pg] = createInProcessGroups(1);
  assert.throws(() => new GossipStrategy(pg!, { topology: "star" as never }), /topology must be one of ring, random, exponential, got "star"/);
  assert.throws(() => new GossipStrategy(pg!, { channelTimeoutMs: 0 }), /channelTimeoutMs must be above 0 and below 2\^31/);
  assert.throws(() => new GossipStrategy(pg!, { channelTimeoutMs: 2 ** 31 }), /below 2\^31 ms/);
});
