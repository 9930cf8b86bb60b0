// Parameter-server training on in-process groups (workers and servers in this process, the same
// engine and algorithms as over TCP): sync equals DDP on the same seed and batches, async counts
// the staleness of every gradient and never waits for a slow worker, ssp holds the fastest worker
// at exactly s steps ahead, a dead or silent server is named with its shard before the deadline, a
// dead worker is named by the servers, and a checkpointed sync run resumes exactly.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { sharedFloat32Array } from "../../../src/distributed/base/shared-buffer.js";
import { createInProcessGroups } from "../../../src/distributed/group/in-process-group.js";
import type { ProcessGroup } from "../../../src/distributed/group/process-group.js";
import { DdpStrategy } from "../../../src/distributed/strategies/ddp-strategy.js";
import { shardCheckpointPath } from "../../../src/distributed/strategies/ps-checkpoint.js";
import { connectPairs, H_KIND, HEADER_FLOATS, KIND_PARAMETERS, ParameterServerError, type PsMode } from "../../../src/distributed/strategies/ps-protocol.js";
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
  onUpdate?: (u: ServerUpdate) => void;
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
        checkpoint: o.checkpoint, resumeFrom: o.resumeFrom, ...(o.onUpdate ? { onUpdate: o.onUpdate } : {}),
      });
    });
    const models = Array.from({ length: o.workers }, () => tinyModel());
    const fits = models.map((model, w) => {
      const strategy = new ParameterServerStrategy(pgs[w]!, { workers: o.workers, servers: o.servers });
      const inner = strategy.step.bind(strategy);
      strategy.step = async (input) => {
        const out = await inner({ step: input.step, forward: () => (o.onForward?.(w, input.step), input.forward()) });
        if (o.delays?.[w] && !out.metrics?.skipped) await sleep(o.delays[w]!);
        o.onStep?.(w, input.step, out.metrics);
        return out;
      };
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
  const { reports, fits, models } = await tinyRun({ workers: 2, servers: 1, mode: "async", steps, delays: { 1: 15 }, onUpdate: (u) => updates.push(u) });
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
  assert.ok(slow.some((u) => u.staleness >= 2), `the slow worker's gradients: ${slow.map((u) => u.staleness)}`);
  assert.equal(r!.staleness_max, Math.max(...updates.map((u) => u.staleness)));
  // Note [the end of an async run]: the fast worker took all its steps, the slow one was stopped.
  assert.equal(updates.filter((u) => u.worker === 0).length, steps);
  assert.ok(slow.length < steps, `the slow worker pushed ${slow.length} of ${steps}`);
  assert.equal(fits[1]!.strategy.steps_skipped, steps - slow.length);
  assert.deepEqual(flat(models[0]!), flat(models[1]!), "both workers end with the servers' final parameters");
});

test("async never waits for a slow worker: the run ends about one slow step after the fast worker's last", async () => {
  const steps = 20, delayMs = 40;
  const { ms, fits } = await tinyRun({ workers: 2, servers: 2, mode: "async", steps, delays: { 1: delayMs } });
  // Sync would take steps x 40 ms = 800 ms; async ends when the fast worker is done, plus at most
  // the slow worker's step in progress.
  assert.ok(ms < (steps * delayMs) / 2, `took ${Math.round(ms)} ms`);
  assert.ok((fits[1]!.strategy.steps_skipped as number) > steps / 2);
});

// --- SSP ----------------------------------------------------------------------------------------

for (const s of [0, 2]) {
  test(`ssp with staleness ${s}: the fast worker blocks at exactly ${s} steps ahead of the slow one, never more`, async () => {
    const applied = [0, 0, 0]; // per worker: its gradients the server has applied (steps completed)
    const leads: number[] = [];
    const reported: number[] = [];
    const steps = 14;
    const { reports } = await tinyRun({
      workers: 3, servers: 1, mode: "ssp", staleness: s, steps, delays: { 2: 12 },
      onUpdate: (u) => (applied[u.worker] = u.step),
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
    assert.ok(leads.filter((l) => l === s).length >= 3, `the fast worker sat at the bound: ${leads}`);
    assert.equal(reports[0]!.lead_max, s);
    assert.equal(Math.max(...reported), s, "the lead each reply carried");
    assert.ok(reports[0]!.held_replies > 0, "replies were held back");
    assert.equal(reports[0]!.updates, 3 * steps, "ssp skips nothing");
  });
}

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
  assert.ok(ms < 5000, `took ${Math.round(ms)} ms against a 20000 ms deadline`);
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
    return true;
  });
  assert.ok(performance.now() - t0 < 3000);
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
