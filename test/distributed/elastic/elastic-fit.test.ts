// Elastic training in one process: three workers on in-process groups (one hub per generation)
// meeting through a real store. Without faults the run is DDP's, bit for bit; when a worker is
// lost the others re-form and finish with identical replicas, having trained on every sample of
// the interrupted epoch; a worker that joins mid-run is identical to the others after its first step.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ElasticGroup, type ElasticGroupOptions } from "../../../src/distributed/elastic/elastic-group.js";
import { createInProcessGroups } from "../../../src/distributed/group/in-process-group.js";
import type { ProcessGroup } from "../../../src/distributed/group/process-group.js";
import { InProcessHub } from "../../../src/distributed/transport/in-process-transport.js";
import { withStore } from "../helpers/with-store.js";
import { DdpStrategy } from "../../../src/distributed/strategies/ddp-strategy.js";
import { modelDigest } from "../../../src/distributed/strategies/flat-state.js";
import { DataLoader, DistributedSampler, elasticShards, type Collate, type Dataset } from "../../../src/data/index.js";
import { fit, type FitResult } from "../../../src/train/fit.js";
import { SGD } from "../../../src/optim/index.js";
import { crossEntropy, Tensor } from "../../../src/tensor/index.js";
import { Rng } from "../../../src/util/rng.js";
import { toyModel } from "../helpers/toy-training.js";

interface Sample { x: Float32Array; y: number; index: number }
interface Batch { x: Tensor; y: Int32Array; indices: number[] }

const SIZE = 90;
const dataset: Dataset<Sample> = {
  length: SIZE,
  get: (i) => {
    const rng = new Rng(77).fork(i);
    return { x: Float32Array.from({ length: 6 }, () => rng.normal()), y: rng.int(3), index: i };
  },
};
const collate: Collate<Sample, Batch> = (samples) => ({
  x: new Tensor(Float32Array.from(samples.flatMap((s) => [...s.x])), [samples.length, 6]),
  y: Int32Array.from(samples, (s) => s.y),
  indices: samples.map((s) => s.index),
});
const BATCH = 4;
const EPOCHS = 2;

/** Generations' groups in one process: the first member to ask for a generation's name makes its hub. */
function meeting() {
  const hubs = new Map<string, { hub: InProcessHub; groups: ProcessGroup[] }>();
  const makeGroup = async (rank: number, worldSize: number, name: string): Promise<ProcessGroup> => {
    let m = hubs.get(name);
    if (!m) {
      const hub = new InProcessHub(worldSize);
      hubs.set(name, (m = { hub, groups: createInProcessGroups(worldSize, { hub, timeoutMs: 10_000 }) }));
    }
    return m.groups[rank]!;
  };
  return { makeGroup, hubOf: (name: string) => hubs.get(name)!.hub };
}


interface Run { result?: FitResult; digest: string; seen: { epoch: number; indices: number[] }[]; error?: Error; digestAt: Map<number, string> }

/** One elastic worker; `dieAt` makes it fail (and its links close) before that step. */
async function elasticWorker(o: Omit<ElasticGroupOptions, "min" | "max"> & { dieAt?: number; hubOf(name: string): InProcessHub }): Promise<Run> {
  const group = (await ElasticGroup.start({ ...o, min: 1, max: 4, joinWindowMs: 1500 }))!;
  const model = toyModel(3);
  const run: Run = { digest: "", seen: [], digestAt: new Map() };
  let epochOf = 0;
  try {
    run.result = await fit<Batch>({
      model, optimizer: new SGD(model.parameters(), { lr: 0.1 }), epochs: EPOCHS,
      data: { batchesPerEpoch: Math.ceil(SIZE / 3 / BATCH), epoch: () => { throw new Error("unused"); } },
      loss: (m, b) => {
        if (o.dieAt !== undefined && run.seen.length + 1 >= o.dieAt) {
          o.hubOf(`elastic-g${group.generation.number}`).kill(group.rank, "worker died in a test");
          throw new Error("worker died in a test");
        }
        run.seen.push({ epoch: epochOf, indices: b.indices });
        return crossEntropy(m.forward(b.x), b.y);
      },
      samplesIn: (b) => b.y.length,
      onStep: (info) => run.digestAt.set(info.step, modelDigest(model)),
      elastic: {
        group, strategyFor: (pg) => new DdpStrategy(pg),
        data: { ...elasticShards(dataset, { batchSize: BATCH, collate, seed: 5 }), shard(epoch, from, rank, world) {
          epochOf = epoch;
          return elasticShards(dataset, { batchSize: BATCH, collate, seed: 5 }).shard(epoch, from, rank, world);
        } },
      },
      onWarning: (l) => process.env.DEBUG_ELASTIC && console.error(o.memberId, l),
    });
  } catch (err) {
    run.error = err as Error;
  }
  run.digest = modelDigest(model);
  return run;
}

/** The same training as fixed DDP over three in-process ranks. */
async function fixedDdp(): Promise<string[]> {
  const groups = createInProcessGroups(3);
  return Promise.all(groups.map(async (pg) => {
    const model = toyModel(3);
    const data = new DataLoader(dataset, { batchSize: BATCH, collate, seed: 5, sampler: new DistributedSampler(SIZE, { rank: pg.rank, worldSize: 3, seed: 5 }) });
    await fit<Batch>({
      model, optimizer: new SGD(model.parameters(), { lr: 0.1 }), epochs: EPOCHS, data,
      loss: (m, b) => crossEntropy(m.forward(b.x), b.y), samplesIn: (b) => b.y.length, strategy: new DdpStrategy(pg),
    });
    return modelDigest(model);
  }));
}

test("without faults, an elastic run of 3 trains exactly as fixed DDP of 3 does", async () => {
  const reference = await fixedDdp();
  const runs = await withStore(async (connect) => {
    const m = meeting();
    const members = ["w0", "w1", "w2"];
    return Promise.all(members.map(async (id) => elasticWorker({ store: await connect(), memberId: id, initialMembers: members, makeGroup: m.makeGroup, hubOf: m.hubOf })));
  });
  for (const r of runs) assert.equal(r.error, undefined, String(r.error?.stack));
  assert.deepEqual(runs.map((r) => r.digest), reference);
  assert.equal(runs[0]!.result!.elastic!.recoveries, 0);
});

test("a worker lost mid-epoch: the others re-form, finish identical, and see every sample of that epoch", async () => {
  const runs = await withStore(async (connect) => {
    const m = meeting();
    const members = ["w0", "w1", "w2"];
    return Promise.all(members.map(async (id) =>
      elasticWorker({ store: await connect(), memberId: id, initialMembers: members, makeGroup: m.makeGroup, hubOf: m.hubOf, ...(id === "w1" ? { dieAt: 4 } : {}) })));
  });
  assert.match(String(runs[1]!.error), /worker died in a test/);
  const survivors = [runs[0]!, runs[2]!];
  for (const r of survivors) assert.equal(r.error, undefined, String(r.error?.stack));
  assert.equal(survivors[0]!.digest, survivors[1]!.digest, "replicas identical after the re-formation");
  const e = survivors[0]!.result!.elastic!;
  assert.equal(e.recoveries, 1);
  assert.equal(e.final_workers, 2);
  // Every sample of each epoch was trained on; beyond the padding, the only repeats are the
  // interrupted step's (the survivors redid it, the lost worker's batch included).
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    const counts = new Map<number, number>();
    for (const r of runs) for (const s of r.seen) if (s.epoch === epoch) for (const i of s.indices) counts.set(i, (counts.get(i) ?? 0) + 1);
    assert.equal(counts.size, SIZE, `epoch ${epoch}: every sample seen`);
    const repeats = [...counts.values()].reduce((n, c) => n + c - 1, 0);
    assert.ok(repeats <= (epoch === 0 ? 2 * BATCH + 2 : 2), `epoch ${epoch}: ${repeats} repeats`);
  }
});

test("a worker that joins mid-run is bitwise identical to the others after its first step", async () => {
  const { runs, joiner } = await withStore(async (connect) => {
    const m = meeting();
    const members = ["w0", "w1"];
    const stores = await Promise.all([connect(), connect(), connect()]);
    const runs = Promise.all(members.map((id, i) => elasticWorker({ store: stores[i]!, memberId: id, initialMembers: members, makeGroup: m.makeGroup, hubOf: m.hubOf })));
    const joiner = elasticWorker({ store: stores[2]!, memberId: "j0", makeGroup: m.makeGroup, hubOf: m.hubOf });
    return { runs: await runs, joiner: await joiner };
  });
  for (const r of [...runs, joiner]) assert.equal(r.error, undefined, String(r.error?.stack));
  const first = Math.min(...joiner.digestAt.keys());
  assert.ok(first > 1, "the joiner came in mid-run");
  assert.equal(joiner.digestAt.get(first), runs[0]!.digestAt.get(first), `identical after the joiner's first step (${first})`);
  assert.equal(joiner.digestAt.get(first), runs[1]!.digestAt.get(first));
  assert.equal(joiner.digest, runs[0]!.digest);
  assert.equal(runs[0]!.digest, runs[1]!.digest);
  assert.equal(runs[0]!.result!.elastic!.final_workers, 3);
  assert.ok(joiner.seen.length > 0, "the joiner trained");
});
