// Parameter-server training on in-process groups (workers and servers in this process, the same
// engine and algorithms as over TCP): sync equals DDP on the same seed and batches, async counts
// the staleness of every gradient and never waits for a slow worker, ssp holds the fastest worker
// at exactly s steps ahead, a dead or silent server is named with its shard before the deadline, a
// wait for a slower worker gets the servers' patience (and says so when it runs out), a dead
// worker is named by the servers, a checkpointed sync run resumes exactly, a run resumed at its
// end resumes again, and async checkpoints agree with the shard files. Slow workers are slow by
// count (gates on what the others have done), not by the clock, wherever the assertion is about
// order.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { sharedFloat32Array } from "../../../src/distributed/base/shared-buffer.js";
import { createInProcessGroups } from "../../../src/distributed/group/in-process-group.js";
import type { ProcessGroup } from "../../../src/distributed/group/process-group.js";
import { DdpStrategy } from "../../../src/distributed/strategies/ddp-strategy.js";
import { checkpointStep, shardCheckpointPath } from "../../../src/distributed/strategies/ps-checkpoint.js";
import {
  connectPairs, H_KIND, HEADER_FLOATS, KIND_PARAMETERS, MAX_PATIENCE_MS, ParameterServerError, patienceMs, slowerWorkerSteps, type PsMode,
} from "../../../src/distributed/strategies/ps-protocol.js";
import { runParameterServer, type ParameterServerReport, type ServerUpdate } from "../../../src/distributed/strategies/ps-server.js";
import { assignShards } from "../../../src/distributed/strategies/ps-shards.js";
import { ParameterServerStrategy } from "../../../src/distributed/strategies/ps-worker.js";
import type { Strategy } from "../../../src/distributed/strategies/strategy.js";
import { InProcessHub } from "../../../src/distributed/transport/in-process-transport.js";
import { mnistCnn } from "../../../src/models/mnist-cnn.js";
import { Linear, manualSeed, ReLU, Sequential, type Module } from "../../../src/nn/index.js";
import { Adam, warmupCosine } from "../../../src/optim/index.js";
import { mnist } from "../../../src/recipes/mnist.js";
import { crossEntropy, randn, type Tensor } from "../../../src/tensor/index.js";
import { fit, type EpochSource, type FitResult } from "../../../src/train/fit.js";
import type { RecipeSettings } from "../../../src/train/recipe.js";
import { buildRecipeParts, runRecipe, type RecipeResult } from "../../../src/train/run-recipe.js";
import { findStrategy } from "../../../src/train/strategies.js";
import { Rng } from "../../../src/util/rng.js";

// --- A tiny model and data: fast enough for many steps in one process -------------------------

function tinyModel(): Sequential {
  manualSeed(7);
  return new Sequential(new Linear(6, 16), new ReLU(), new Linear(16, 3));
}

interface Batch {
  x: Tensor;
  y: Int32Array;
}

/** Worker `rank`'s batches: a function of (rank, epoch, batch), like the real loader's. */
function batchesOf(rank: number, perEpoch = 1000): EpochSource<Batch> {
  return {
    batchesPerEpoch: perEpoch,
    async *epoch(e: number, from = 0) {
      for (let b = from; b < perEpoch; b++) {
        const x = randn([4, 6], new Rng(100_000 * rank + 1000 * e + b));
        yield { x, y: Int32Array.from(x.toArray().filter((_, i) => i % 6 === 0), (v) => (v > 0.5 ? 2 : v > -0.5 ? 1 : 0)) };
      }
    },
  };
}

const tinyLoss = (m: Module, b: Batch): Tensor => crossEntropy(m.forward(b.x), b.y);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface TinyRun {
  workers: number;
  servers: number;
  mode: PsMode;
  staleness?: number;
  steps: number;
  /** Sleep after each computed step of these workers, ms (stragglers; as fit's slowdown, a skipped step is not slowed). */
  delays?: Record<number, number>;
  /** Awaited before each step of every worker (skipped ones too): gates that order the workers by counts, not by time. */
  before?: (worker: number, step: number) => Promise<void>;
  /** Called when a worker's finish() starts (it has taken or skipped all its steps). */
  onFinish?: (worker: number) => void;
  /** The workers' deadline (ParameterServerStrategyOptions.timeoutMs). */
  workerTimeoutMs?: number;
  onUpdate?: (u: ServerUpdate, server: number) => void;
  onStep?: (worker: number, step: number, metrics: Record<string, number> | undefined) => void;
  onForward?: (worker: number, step: number) => void;
  checkpoint?: { path: string; everySteps?: number };
  resumeFrom?: string;
}

const schedule = warmupCosine({ peak: 0.02, warmup: 3, total: 40 });

/** Trains the tiny model with W workers through fit() and S servers; returns every rank's outcome. */
async function tinyRun(o: TinyRun): Promise<{ fits: FitResult[]; reports: ParameterServerReport[]; models: Module[]; ms: number }> {
  const t0 = performance.now();
  const pgs = createInProcessGroups(o.workers + o.servers);
  try {
    const reports = Array.from({ length: o.servers }, (_, k) => {
      const model = tinyModel();
      return runParameterServer({
        pg: pgs[o.workers + k]!, workers: o.workers, servers: o.servers, mode: o.mode, model,
        ...(o.staleness === undefined ? {} : { staleness: o.staleness }),
        optimizer: new Adam(model.parameters(), { lr: 0.02 }), schedule, totalSteps: o.steps,
        checkpoint: o.checkpoint, resumeFrom: o.resumeFrom, ...(o.onUpdate ? { onUpdate: (u: ServerUpdate) => o.onUpdate!(u, k) } : {}),
      });
    });
    const models = Array.from({ length: o.workers }, () => tinyModel());
    const fits = models.map((model, w) => {
      const strategy = new ParameterServerStrategy(pgs[w]!, { workers: o.workers, servers: o.servers, ...(o.workerTimeoutMs === undefined ? {} : { timeoutMs: o.workerTimeoutMs }) });
      const inner = strategy.step.bind(strategy);
      strategy.step = async (input) => {
        await o.before?.(w, input.step);
        const out = await inner({ step: input.step, forward: () => (o.onForward?.(w, input.step), input.forward()) });
        if (o.delays?.[w] && !out.skipped) await sleep(o.delays[w]!);
        o.onStep?.(w, input.step, out.metrics);
        return out;
      };
      const finish = strategy.finish.bind(strategy);
      strategy.finish = () => (o.onFinish?.(w), finish());
      return fit({
        model, optimizer: new Adam(model.parameters(), { lr: 0.02 }), data: batchesOf(w),
        loss: tinyLoss, samplesIn: () => 4, maxSteps: o.steps, schedule, strategy,
        ...(o.checkpoint ? { checkpoint: o.checkpoint } : {}), ...(o.resumeFrom === undefined ? {} : { resumeFrom: o.resumeFrom }),
      });
    });
    const [f, r] = await Promise.all([Promise.all(fits), Promise.all(reports)]);
    return { fits: f, reports: r, models, ms: performance.now() - t0 };
  } finally {
    await Promise.all(pgs.map((pg) => pg.destroy()));
  }
}

/**
 * A count that gates ask for: until(n) resolves once it reached n, or once open() was called. So
 * tests order workers by what was done, not by how long it took; a fallback timer (never reached
 * when the strategy behaves) keeps a strategy that deadlocks the gates from hanging the test,
 * which then fails its count assertions instead.
 */
class Gate {
  n = 0;
  private opened = false;
  private readonly waiting: { n: number; resolve: () => void }[] = [];

  add(): void {
    this.n++;
    this.flush();
  }

  open(): void {
    this.opened = true;
    this.flush();
  }

  until(n: number): Promise<void> {
    if (this.opened || this.n >= n) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 10_000);
      this.waiting.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  private flush(): void {
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      if (this.opened || this.n >= this.waiting[i]!.n) this.waiting.splice(i, 1)[0]!.resolve();
    }
  }
}

function flat(m: Module): Float32Array {
  const ps = m.parameters();
  const out = new Float32Array(ps.reduce((n, p) => n + p.size, 0));
  let at = 0;
  for (const p of ps) {
    out.set(p.dense(), at);
    at += p.size;
  }
  return out;
}

// --- Shards -----------------------------------------------------------------------------------

test("shards: largest first onto the least-loaded server, the same on every call; the MNIST CNN's fc1 gets a server of its own", () => {
  const sizes = mnistCnn().parameters().map((p) => p.size);
  const two = assignShards(sizes, 2);
  assert.deepEqual(two, assignShards(sizes, 2));
  assert.deepEqual(two[0]!.params, [4], "fc1.weight (204800 floats) alone");
  assert.deepEqual(two[1]!.params, [0, 1, 2, 3, 5, 6, 7]);
  assert.equal(two[0]!.size + two[1]!.size, sizes.reduce((a, b) => a + b, 0));
  const three = assignShards([5, 5, 5, 5, 5, 5], 3);
  assert.deepEqual(three.map((s) => s.size), [10, 10, 10]);
  assert.deepEqual(assignShards([1, 2], 3).map((s) => s.params.length), [1, 1, 0], "more servers than tensors leaves one empty");
});

test("more servers than tensors is refused on the worker and the server, naming the counts", async () => {
  const pgs = createInProcessGroups(4);
  const worker = new ParameterServerStrategy(pgs[0]!, { workers: 1, servers: 3 });
  const model = new Linear(2, 1); // 2 tensors
  await assert.rejects(worker.setup(model, new Adam(model.parameters(), { lr: 1 })), /the model has 2 tensors, fewer than the 3 servers .*use at most 2 servers/);
  const m = new Linear(2, 1);
  await assert.rejects(runParameterServer({ pg: pgs[3]!, workers: 1, servers: 3, mode: "sync", model: m, optimizer: new Adam(m.parameters(), { lr: 1 }) }), /owns no tensors: the model has 2, fewer than the 3 servers/);
  await Promise.all(pgs.map((pg) => pg.destroy()));
});

test("bad options are refused with the value and what is allowed", async () => {
  const pgs = createInProcessGroups(3);
  const m = new Linear(2, 1);
  const base = { pg: pgs[2]!, workers: 2, servers: 1, model: m, optimizer: new Adam(m.parameters(), { lr: 1 }) };
  await assert.rejects(runParameterServer({ ...base, mode: "fast" as PsMode }), /mode must be one of sync, async, ssp, got "fast"/);
  await assert.rejects(runParameterServer({ ...base, mode: "ssp" }), /ssp needs staleness, an integer >= 0/);
  await assert.rejects(runParameterServer({ ...base, mode: "ssp", staleness: -1 }), /ssp needs staleness, an integer >= 0 .* got -1/);
  await assert.rejects(runParameterServer({ ...base, pg: pgs[0]!, mode: "sync" }), /rank 0 is not a server; with 2 workers the servers are ranks 2..2/);
  assert.throws(() => new ParameterServerStrategy(pgs[2]!, { workers: 2, servers: 1 }), /rank 2 is a server/);
  assert.throws(() => new ParameterServerStrategy(pgs[0]!, { workers: 2, servers: 2 }), /the group has 3 ranks, but 2 workers and 2 servers need 4/);
  assert.throws(() => new ParameterServerStrategy(pgs[0]!, { workers: 2, servers: 0 }), /servers must be an integer >= 1, got 0/);
  const entry = findStrategy("ps")!;
  assert.match(entry.check!({ mode: "async", staleness: 2 }, 2)!, /--staleness bounds --mode ssp; --mode async takes none/);
  assert.match(entry.check!({ staleness: 2 }, 2)!, /--mode sync takes none/);
  assert.match(entry.check!({ mode: "ssp" }, 2)!, /--mode ssp needs --staleness S/);
  assert.equal(entry.check!({ mode: "ssp", staleness: 0 }, 2), undefined);
  assert.equal(entry.processes!({ servers: 3 }, 4), 7);
  assert.equal(entry.processes!({}, 4), 5);
  await Promise.all(pgs.map((pg) => pg.destroy()));
});

// --- One worker is plain training ---------------------------------------------------------------

test("one worker and one sync server train exactly as one process does (SingleStrategy), bit for bit", async () => {
  const single = tinyModel();
  await fit({ model: single, optimizer: new Adam(single.parameters(), { lr: 0.02 }), data: batchesOf(0), loss: tinyLoss, samplesIn: () => 4, maxSteps: 8, schedule });
  const { models, reports } = await tinyRun({ workers: 1, servers: 1, mode: "sync", steps: 8 });
  assert.deepEqual(flat(models[0]!), flat(single));
  assert.equal(reports[0]!.updates, 8);
});

// --- Sync equals DDP ----------------------------------------------------------------------------

const mnistSettings: RecipeSettings = { epochs: 1, maxSteps: 4, seed: 5, batch: 16, lr: 2e-3, options: { shift: 2, "warmup-steps": 2 } };

/** The MNIST recipe on W workers through the registry's ps entry (as weft train runs it), in this process. */
async function mnistPs(workers: number, servers: number): Promise<RecipeResult[]> {
  const entry = findStrategy("ps")!;
  const options = { servers, mode: "sync" };
  const pgs = createInProcessGroups(workers + servers);
  try {
    const serving = pgs.slice(workers).map((pg) => entry.serve!({ pg, options, workers, parts: buildRecipeParts(mnist, mnistSettings, 0, workers) }));
    const training = pgs.slice(0, workers).map((pg) => runRecipe({ recipe: mnist, settings: mnistSettings, strategy: entry.create(pg, options, workers) }));
    const [results] = await Promise.all([Promise.all(training), Promise.all(serving)]);
    return results;
  } finally {
    await Promise.all(pgs.map((pg) => pg.destroy()));
  }
}

async function mnistDdp(workers: number): Promise<RecipeResult[]> {
  const pgs = createInProcessGroups(workers);
  try {
    return await Promise.all(pgs.map((pg) => runRecipe({ recipe: mnist, settings: mnistSettings, strategy: new DdpStrategy(pg) })));
  } finally {
    await Promise.all(pgs.map((pg) => pg.destroy()));
  }
}

test("sync with one server and with two gives DDP's parameters bit for bit on 2 workers (the same step computed two ways)", async () => {
  const [ddp] = await mnistDdp(2);
  for (const servers of [1, 2]) {
    const results = await mnistPs(2, servers);
    assert.equal(results[0]!.digest, ddp!.digest, `${servers} server(s): parameters differ from DDP's`);
    assert.equal(results[1]!.digest, ddp!.digest);
    assert.equal(results[0]!.test_accuracy, ddp!.test_accuracy);
    assert.equal(results[0]!.servers, servers);
  }
});

test("sync with 3 workers and 2 servers follows DDP within float tolerance (another summation order)", async () => {
  // DDP's in-process all-reduce on 3 ranks is a ring, which sums in another order than the
  // server's worker-rank order; the difference is rounding, amplified a little by Adam.
  const workers = 3;
  const modelsOf = async (strategyFor: (pgs: ProcessGroup[], w: number) => Strategy, extra: number, serve: (pgs: ProcessGroup[]) => Promise<unknown>[]) => {
    const pgs = createInProcessGroups(workers + extra);
    try {
      const models = Array.from({ length: workers }, () => tinyModel());
      const served = serve(pgs);
      await Promise.all([
        ...models.map((model, w) => fit({
          model, optimizer: new Adam(model.parameters(), { lr: 0.02 }), data: batchesOf(w), loss: tinyLoss, samplesIn: () => 4,
          maxSteps: 8, schedule, strategy: strategyFor(pgs, w),
        })),
        ...served,
      ]);
      return models;
    } finally {
      await Promise.all(pgs.map((pg) => pg.destroy()));
    }
  };
  const ddp = await modelsOf((pgs, w) => new DdpStrategy(pgs[w]!), 0, () => []);
  const ps = await modelsOf((pgs, w) => new ParameterServerStrategy(pgs[w]!, { workers, servers: 2 }), 2, (pgs) => [0, 1].map((k) => {
    const model = tinyModel();
    return runParameterServer({ pg: pgs[workers + k]!, workers, servers: 2, mode: "sync", model, optimizer: new Adam(model.parameters(), { lr: 0.02 }), schedule });
  }));
  const [a, b] = [flat(ddp[0]!), flat(ps[0]!)];
  let worst = 0;
  a.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b[i]!) / Math.max(1e-3, Math.abs(v)))));
  assert.ok(worst < 1e-4, `largest relative difference ${worst}`);
  assert.deepEqual(flat(ps[1]!), b, "the workers hold the same parameters");
});

// --- Async --------------------------------------------------------------------------------------

test("async: every gradient is applied as it arrives and its staleness counted; the slow worker's are stale by the fast one's updates", async () => {
  const updates: ServerUpdate[] = [];
  const steps = 12;
  // Worker 1 starts its step t only once worker 0's 3t-th gradient was applied (or worker 0 is
  // finishing): it is the slow one by count, whatever the machine's speed.
  const fast = new Gate();
  const fastBeforeSlow: number[] = []; // worker 0's updates applied before each of worker 1's
  const { reports, fits, models } = await tinyRun({
    workers: 2, servers: 1, mode: "async", steps,
    before: (w, t) => (w === 1 ? fast.until(3 * t) : Promise.resolve()),
    onFinish: (w) => w === 0 && fast.open(),
    onUpdate: (u) => {
      updates.push(u);
      if (u.worker === 0) fast.add();
      else fastBeforeSlow.push(fast.n);
    },
  });
  const [r] = reports;
  // The definition, recomputed from the order of the updates: a worker's parameters are sent
  // right after its own update, so its next gradient's staleness is the updates in between.
  const lastVersion = [0, 0];
  for (const u of updates) {
    assert.equal(u.staleness, u.version - 1 - lastVersion[u.worker]!, `update ${u.version} (worker ${u.worker})`);
    lastVersion[u.worker] = u.version;
  }
  assert.equal(r!.updates, updates.length);
  const histogram = Object.entries(r!).filter(([k]) => /^staleness_\d+$/.test(k)).reduce((n, [, v]) => n + (v as number), 0);
  assert.equal(histogram, r!.updates, "the histogram counts every update");
  const slow = updates.filter((u) => u.worker === 1);
  // Its first gradient was computed on the starting parameters, and 3 of worker 0's came first.
  assert.ok(slow[0]!.staleness >= 3, `the slow worker's gradients: ${slow.map((u) => u.staleness)}`);
  assert.equal(r!.staleness_max, Math.max(...updates.map((u) => u.staleness)));
  // No waiting for the slow worker: worker 0's updates went on while worker 1 sat at its gate
  // (had the server held worker 0 for it, the gate would have opened only at its fallback timer).
  fastBeforeSlow.forEach((n, k) => assert.ok(n >= Math.min(3 * (k + 1), steps), `worker 0's updates before each of worker 1's: ${fastBeforeSlow}`));
  // Note [the end of an async run]: the fast worker took all its steps, the slow one was stopped.
  assert.equal(updates.filter((u) => u.worker === 0).length, steps);
  assert.ok(slow.length < steps, `the slow worker pushed ${slow.length} of ${steps}`);
  assert.equal(fits[1]!.strategy.steps_skipped, steps - slow.length);
  assert.deepEqual(flat(models[0]!), flat(models[1]!), "both workers end with the servers' final parameters");
});

test("async never waits for a slow worker: the slow one is stopped within a step or two of the fast worker's last", async () => {
  const steps = 20;
  const fast = new Gate(); // worker 0's gradients applied (by server 0)
  let slowAfterFastsLast = 0;
  const { fits, reports } = await tinyRun({
    workers: 2, servers: 2, mode: "async", steps,
    before: (w, t) => (w === 1 ? fast.until(5 * t) : Promise.resolve()),
    onFinish: (w) => w === 0 && fast.open(),
    onUpdate: (u, server) => {
      if (server !== 0) return;
      if (u.worker === 0) fast.add();
      else if (fast.n === steps) slowAfterFastsLast++;
    },
  });
  assert.equal(fast.n, steps, "the fast worker took every step");
  // Sync would apply all 20 of the slow worker's steps; async applies the one in progress when
  // the fast worker is done (two, should its "done" arrive just behind the slow one's gradient).
  assert.ok(slowAfterFastsLast <= 2, `the slow worker's gradients after the fast one's last: ${slowAfterFastsLast}`);
  assert.ok((fits[1]!.strategy.steps_skipped as number) >= steps - 6, `skipped ${fits[1]!.strategy.steps_skipped}`);
  assert.equal(reports[0]!.updates, reports[1]!.updates, "every gradient went to both servers");
});

// --- SSP ----------------------------------------------------------------------------------------

for (const s of [0, 2]) {
  test(`ssp with staleness ${s}: the fast workers block at exactly ${s} steps ahead of the slow one, never more`, async () => {
    const applied = [0, 0, 0]; // per worker: its gradients the server has applied (steps completed)
    const pushed = [new Gate(), new Gate()]; // the fast workers' gradients applied
    const leads: number[] = [];
    const reported: number[] = [];
    const steps = 14;
    const { reports } = await tinyRun({
      workers: 3, servers: 1, mode: "ssp", staleness: s, steps,
      // Slow worker 2 starts step t once both fast workers have pushed step t + s (the gradient
      // whose reply the bound holds), so by count they are always as far ahead as it lets them.
      before: async (w, t) => {
        if (w === 2) await Promise.all(pushed.map((g) => g.until(Math.min(t + s, steps))));
      },
      onUpdate: (u) => {
        applied[u.worker] = u.step;
        if (u.worker < 2) pushed[u.worker]!.add();
      },
      // Fast worker 0 starts step t having completed t - 1; its lead over the slowest unfinished
      // worker is measured from the server's own record of what was applied.
      onForward: (w, t) => {
        if (w === 0) leads.push(t - 1 - Math.min(...applied));
      },
      onStep: (w, _t, metrics) => {
        if (w === 0) reported.push(metrics!.lead!);
      },
    });
    assert.equal(Math.max(...leads), s, `leads seen at each step start: ${leads}`);
    assert.ok(leads.filter((l) => l === s).length >= steps - s - 2, `the fast worker sat at the bound: ${leads}`);
    assert.equal(reports[0]!.lead_max, s);
    assert.equal(Math.max(...reported), s, "the lead each reply carried");
    assert.ok(reports[0]!.held_replies > 0, "replies were held back");
    assert.equal(reports[0]!.updates, 3 * steps, "ssp skips nothing");
  });
}

test("ssp: a worker that finished waits past its deadline for the slowest worker's last s steps, with the servers' patience", async () => {
  // Worker 1 sleeps 250 ms after each step and starts its step 6 once worker 0 is in finish(),
  // which s = 3 allows once it completed step 5: worker 0 then waits for its steps 6 to 8, at
  // least 750 ms, past its own 600 ms deadline.
  let finishMs = 0;
  let finishedAt = 0;
  const finishing = new Gate();
  const { fits, reports } = await tinyRun({
    workers: 2, servers: 1, mode: "ssp", staleness: 3, steps: 8, delays: { 1: 250 }, workerTimeoutMs: 600,
    before: (w, t) => (w === 1 && t === 6 ? finishing.until(1) : Promise.resolve()),
    onFinish: (w) => {
      if (w !== 0) return;
      finishedAt = performance.now();
      finishing.open();
    },
    onStep: (w) => {
      if (w === 1) finishMs = performance.now();
    },
  });
  assert.ok(finishMs - finishedAt > 600, `worker 0 finished ${Math.round(finishMs - finishedAt)} ms before worker 1's last step: the wait was not past the deadline`);
  assert.equal(reports[0]!.updates, 16);
  assert.equal(fits[0]!.steps, 8);
});

test("the patience of a wait: 4x the longest step seen per slower-worker step it may wait for, by mode; bounded", () => {
  assert.deepEqual(slowerWorkerSteps("sync", 0, 4), { step: 1, finish: 1 });
  assert.deepEqual(slowerWorkerSteps("async", 0, 4), { step: 0, finish: 1 });
  assert.deepEqual(slowerWorkerSteps("ssp", 3, 4), { step: 1, finish: 4 });
  assert.deepEqual(slowerWorkerSteps("ssp", 3, 1), { step: 0, finish: 0 }, "one worker waits for no one");
  assert.equal(patienceMs(4, 250), 4 * 4 * 250);
  assert.equal(patienceMs(0, 250), 0);
  assert.equal(patienceMs(1, 0), 0, "no step seen yet");
  assert.equal(patienceMs(100, 1e9), MAX_PATIENCE_MS, "a silent server is still found, eventually");
});

// --- Failures -----------------------------------------------------------------------------------

test("a server that dies: every worker gets a ParameterServerError naming it and its shard, well within the deadline", async () => {
  const hub = new InProcessHub(4); // workers 0, 1; servers 2, 3
  const pgs = createInProcessGroups(4, { hub, timeoutMs: 20_000 });
  const models = [tinyModel(), tinyModel()];
  const servers = [0, 1].map((k) => {
    const model = tinyModel();
    return runParameterServer({ pg: pgs[2 + k]!, workers: 2, servers: 2, mode: "sync", model, optimizer: new Adam(model.parameters(), { lr: 0.01 }) });
  });
  servers.forEach((s) => s.catch(() => {}));
  const workers = models.map((m, w) => new ParameterServerStrategy(pgs[w]!, { workers: 2, servers: 2 }));
  await Promise.all(workers.map((ps, w) => ps.setup(models[w]!, new Adam(models[w]!.parameters(), { lr: 0.01 }))));
  const data = [0, 1].map((w) => batchesOf(w).epoch(0)[Symbol.asyncIterator]());
  const stepAll = async (t: number) => Promise.all(workers.map(async (ps, w) => {
    const b = (await data[w]!.next()).value as Batch;
    return ps.step({ step: t, forward: () => tinyLoss(models[w]!, b) });
  }));
  for (let t = 1; t <= 3; t++) await stepAll(t);
  const shard = assignShards(models[0]!.parameters().map((p) => p.size), 2)[1]!;
  hub.kill(3, "killed by the test");
  const t0 = performance.now();
  const outcomes = await Promise.allSettled(workers.map((ps, w) => (async () => {
    const b = (await data[w]!.next()).value as Batch;
    return ps.step({ step: 4, forward: () => tinyLoss(models[w]!, b) });
  })()));
  const ms = performance.now() - t0;
  for (const o of outcomes) {
    assert.equal(o.status, "rejected");
    const err = (o as PromiseRejectedResult).reason as ParameterServerError;
    assert.ok(err instanceof ParameterServerError, String(err));
    assert.equal(err.rank, 3);
    assert.match(err.message, new RegExp(`^parameter server rank 3 \\(shard 1: ${shard.size} parameters in ${shard.params.length} tensors\\) failed worker rank [01] `));
    assert.match(err.message, /PeerLostError/);
  }
  // A closed link is news at once; only the 20 s deadline would be slow (generous for a loaded CI machine).
  assert.ok(ms < 15_000, `took ${Math.round(ms)} ms against a 20000 ms deadline`);
  await Promise.all(workers.map((ps) => ps.end()));
  await Promise.all(pgs.map((pg) => pg.destroy()));
});

test("a server that stops answering: the workers get the error naming it at their deadline, never a hang", async () => {
  const pgs = createInProcessGroups(2); // worker 0, server 1 (a fake that answers the set-up, then nothing)
  const model = tinyModel();
  const silent = (async () => {
    const [pair] = await connectPairs(pgs[1]!, 1, 1);
    const size = HEADER_FLOATS + model.parameters().reduce((n, p) => n + p.size, 0);
    const hello = sharedFloat32Array(size);
    hello[H_KIND] = KIND_PARAMETERS;
    await pair!.send(hello, 0);
  })();
  const ps = new ParameterServerStrategy(pgs[0]!, { workers: 1, servers: 1, timeoutMs: 300 });
  await ps.setup(model, new Adam(model.parameters(), { lr: 0.01 }));
  await silent;
  const b = (await batchesOf(0).epoch(0)[Symbol.asyncIterator]().next()).value as Batch;
  const t0 = performance.now();
  await assert.rejects(ps.step({ step: 1, forward: () => tinyLoss(model, b) }), (err: Error) => {
    assert.ok(err instanceof ParameterServerError);
    assert.match(err.message, /^parameter server rank 1 \(shard 0: \d+ parameters in 4 tensors\) failed worker rank 0 pulling the parameters after step 1: CollectiveTimeoutError/);
    // One worker waits for no other: the server is to blame.
    assert.match(err.message, /; the server died or stopped answering/);
    assert.doesNotMatch(err.message, /slower worker/);
    return true;
  });
  // The 300 ms deadline fired, rather than a hang (bounded generously for a loaded machine).
  assert.ok(performance.now() - t0 < 20_000);
  await Promise.all(pgs.map((pg) => pg.destroy()));
});

test("a sync server waiting for a worker that never steps: the timeout says the server may be waiting for a slower worker", async () => {
  const pgs = createInProcessGroups(3, { timeoutMs: 20_000 }); // workers 0, 1; server 2
  const serverModel = tinyModel();
  const served = runParameterServer({ pg: pgs[2]!, workers: 2, servers: 1, mode: "sync", model: serverModel, optimizer: new Adam(serverModel.parameters(), { lr: 0.01 }) });
  served.catch(() => {});
  const models = [tinyModel(), tinyModel()];
  const workers = models.map((m, w) => new ParameterServerStrategy(pgs[w]!, { workers: 2, servers: 1, timeoutMs: 300 }));
  await Promise.all(workers.map((ps, w) => ps.setup(models[w]!, new Adam(models[w]!.parameters(), { lr: 0.01 }))));
  const b = (await batchesOf(0).epoch(0)[Symbol.asyncIterator]().next()).value as Batch;
  await assert.rejects(workers[0]!.step({ step: 1, forward: () => tinyLoss(models[0]!, b) }), (err: Error) => {
    assert.ok(err instanceof ParameterServerError);
    assert.match(err.message, /failed worker rank 0 pulling the parameters after step 1: CollectiveTimeoutError: .*; the server stopped answering, or is waiting for a slower worker/);
    return true;
  });
  await Promise.all(workers.map((ps) => ps.end()));
  await Promise.all(pgs.map((pg) => pg.destroy()));
});

test("a worker that dies: the server fails naming it", async () => {
  const hub = new InProcessHub(3);
  const pgs = createInProcessGroups(3, { hub, timeoutMs: 20_000 });
  const serverModel = tinyModel();
  const served = runParameterServer({ pg: pgs[2]!, workers: 2, servers: 1, mode: "async", model: serverModel, optimizer: new Adam(serverModel.parameters(), { lr: 0.01 }) });
  const models = [tinyModel(), tinyModel()];
  const workers = models.map((m, w) => new ParameterServerStrategy(pgs[w]!, { workers: 2, servers: 1 }));
  await Promise.all(workers.map((ps, w) => ps.setup(models[w]!, new Adam(models[w]!.parameters(), { lr: 0.01 }))));
  const b = (await batchesOf(0).epoch(0)[Symbol.asyncIterator]().next()).value as Batch;
  await workers[0]!.step({ step: 1, forward: () => tinyLoss(models[0]!, b) });
  hub.kill(1, "killed by the test");
  await assert.rejects(served, (err: Error) => {
    assert.ok(err instanceof ParameterServerError);
    assert.equal((err as ParameterServerError).rank, 1);
    assert.match(err.message, /^parameter server rank 2 \(shard 0: \d+ parameters in 4 tensors\) lost worker rank 1 after its step 0: PeerLostError/);
    return true;
  });
  await Promise.all(pgs.map((pg) => pg.destroy()));
});

// --- Checkpoints --------------------------------------------------------------------------------

test("sync: a run checkpointed at step 5 and resumed ends with the parameters of the uninterrupted run, bit for bit", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-ps-"));
  try {
    const base = { workers: 2, servers: 2, mode: "sync" as const, steps: 10 };
    const whole = await tinyRun(base);
    const path = join(dir, "run.safetensors");
    await tinyRun({ ...base, steps: 5, checkpoint: { path, everySteps: 2 } });
    assert.ok(existsSync(path) && existsSync(shardCheckpointPath(path, 0)) && existsSync(shardCheckpointPath(path, 1)), "worker 0's file and one per server");
    const resumed = await tinyRun({ ...base, resumeFrom: path });
    assert.equal(resumed.fits[0]!.steps, 5);
    assert.deepEqual(flat(resumed.models[0]!), flat(whole.models[0]!));
    assert.equal(resumed.reports[0]!.updates, 5, "the resumed servers applied the other 5 steps");
    // A shard file from another layout is refused, naming both.
    await assert.rejects(tinyRun({ ...base, servers: 1, resumeFrom: path }), /holds shard 0 of 2 servers .* this server owns shard 0 of 1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const mode of ["sync", "async"] as const) {
  test(`${mode}: a run resumed from its final checkpoint takes no step and leaves the files at that step, so it resumes again`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "weft-ps-"));
    try {
      const path = join(dir, "run.safetensors");
      const base = { workers: 2, servers: 2, mode, steps: 5, checkpoint: { path } };
      const first = await tinyRun(base);
      const steps = async () => Promise.all([path, shardCheckpointPath(path, 0), shardCheckpointPath(path, 1)].map((f) => checkpointStep(f)));
      assert.deepEqual(await steps(), [5, 5, 5]);
      for (const again of [1, 2]) {
        const resumed = await tinyRun({ ...base, resumeFrom: path });
        assert.equal(resumed.fits[0]!.steps, 0, `resume ${again}`);
        assert.equal(resumed.fits[0]!.final_step, 5);
        assert.deepEqual(await steps(), [5, 5, 5], `after resume ${again}: worker 0's file and the shard files`);
        assert.equal(resumed.reports[0]!.updates, 0);
        assert.deepEqual(flat(resumed.models[1]!), flat(first.models[0]!), "the servers' parameters, unchanged");
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("async: once worker 0 is stopped it writes no checkpoint for its skipped steps, so its file and the shard files are always at the same step", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-ps-"));
  try {
    const path = join(dir, "run.safetensors");
    const files = [path, shardCheckpointPath(path, 0), shardCheckpointPath(path, 1)];
    const steps = 12;
    const fast = new Gate(); // worker 1's gradients applied (by server 0)
    const seen: number[][] = []; // the files' steps at the start of each of worker 0's steps, taken or skipped
    const { fits } = await tinyRun({
      workers: 2, servers: 2, mode: "async", steps, checkpoint: { path, everySteps: 1 },
      // Worker 0 is the slow one here (by count: 3 of worker 1's steps to each of its own).
      before: async (w, t) => {
        if (w !== 0) return;
        if (files.every((f) => existsSync(f))) seen.push(await Promise.all(files.map((f) => checkpointStep(f))));
        await fast.until(3 * t);
      },
      onFinish: (w) => w === 1 && fast.open(),
      onUpdate: (u, server) => {
        if (server === 0 && u.worker === 1) fast.add();
      },
    });
    const skipped = fits[0]!.strategy.steps_skipped as number;
    assert.ok(skipped > 0 && skipped < steps, `worker 0 skipped ${skipped} of its ${steps} steps`);
    assert.equal(fits[0]!.final_step, steps, "its position still went to the end");
    assert.ok(seen.length >= steps - 1, `checked ${seen.length} times`);
    for (const s of seen) assert.ok(s[0] === s[1] && s[1] === s[2], `worker 0's file, shard 0's, shard 1's: steps ${s}; every check: ${JSON.stringify(seen)}`);
    assert.deepEqual(await Promise.all(files.map((f) => checkpointStep(f))), [steps, steps, steps], "the final files: the run's last step");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the result line counts updates per server: sync with 2 servers applies each step once on each", async () => {
  const steps = 4;
  const { fits, reports } = await tinyRun({ workers: 2, servers: 2, mode: "sync", steps });
  const combined = findStrategy("ps")!.combine!([...fits.map((f) => f.strategy), ...reports], 2);
  assert.equal(combined.updates_per_server, steps);
  assert.equal(combined.updates, undefined, "no total over servers (2 x the steps) that reads as steps");
  assert.equal(combined.servers, 2);
  assert.equal(combined.replicas_identical, true);
});
