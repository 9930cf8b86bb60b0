// DDP on in-process groups (two ranks in this process, same engine and algorithms as over TCP):
// averaged gradients equal a single process's on the whole batch, communication starts during
// backward, noSync accumulates without communication, uneven inputs stop together, and replicas
// stay bitwise identical.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createInProcessGroups } from "../../../src/distributed/group/in-process-group.js";
import { initProcessGroup } from "../../../src/distributed/group/init.js";
import { CollectiveMismatchError } from "../../../src/distributed/base/errors.js";
import type { ProcessGroup } from "../../../src/distributed/group/process-group.js";
import { DistributedDataParallel } from "../../../src/distributed/strategies/ddp.js";
import { Linear, manualSeed, ReLU, Sequential, type Module } from "../../../src/nn/index.js";
import { Adam } from "../../../src/optim/index.js";
import { crossEntropy, randn, reusingBuffers, slice, type Tensor } from "../../../src/tensor/index.js";
import { buffersReused } from "../../../src/tensor/storage.js";
import { Rng } from "../../../src/util/rng.js";

const x = randn([8, 6], new Rng(1));
const y = Int32Array.from([0, 1, 2, 0, 1, 2, 2, 1]);

function model(seed: number): Sequential {
  manualSeed(seed);
  return new Sequential(new Linear(6, 16), new ReLU(), new Linear(16, 3));
}

/** Rank r's half of the batch. */
function shard(rank: number): { x: Tensor; y: Int32Array } {
  return { x: slice(x, 0, 4 * rank, 4 * rank + 4), y: y.subarray(4 * rank, 4 * rank + 4) };
}

async function replicas(pgs: ProcessGroup[], bucketBytes = 64): Promise<{ models: Sequential[]; ddps: DistributedDataParallel[] }> {
  // Different seeds: the broadcast from rank 0 must make them equal.
  const models = pgs.map((_, r) => model(10 + r));
  const ddps = await Promise.all(models.map((m, r) => DistributedDataParallel.create(m, pgs[r]!, { bucketBytes })));
  return { models, ddps };
}

test("averaged gradients equal the single-process gradient of the whole batch", async () => {
  const pgs = createInProcessGroups(2);
  const { models, ddps } = await replicas(pgs);
  assert.equal(ddps[0]!.parameterDigest(), ddps[1]!.parameterDigest(), "rank 0's parameters were broadcast");
  const single = model(10);
  crossEntropy(single.forward(x), y).backward();
  for (const [r, m] of models.entries()) crossEntropy(m.forward(shard(r).x), shard(r).y).backward();
  await Promise.all(ddps.map((d) => d.finishGradients()));
  for (const m of models) {
    m.namedParameters().forEach(([name, p], i) => {
      const expected = single.parameters()[i]!.grad!.toArray();
      p.grad!.toArray().forEach((v, k) => assert.ok(Math.abs(v - expected[k]!) < 1e-6, `${name}[${k}]: ${v} vs ${expected[k]}`));
    });
  }
  await Promise.all(pgs.map((pg) => pg.destroy()));
});

/**
 * Five Adam steps on both replicas, each on its own shard; `check` runs after the gradients are
 * averaged (before the step), and the replicas' digests are compared after every step.
 */
async function adamSteps(pgs: ProcessGroup[], label: string, check: (step: number, models: Module[]) => void = () => {}): Promise<void> {
  const { models, ddps } = await replicas(pgs);
  const opts = models.map((m) => new Adam(m.parameters(), { lr: 0.01 }));
  for (let step = 0; step < 5; step++) {
    models.forEach((m, r) => {
      opts[r]!.zeroGrad();
      crossEntropy(m.forward(shard(r).x), shard(r).y).backward();
    });
    await Promise.all(ddps.map((d) => d.finishGradients()));
    check(step, models);
    opts.forEach((o) => o.step());
    assert.equal(ddps[0]!.parameterDigest(), ddps[1]!.parameterDigest(), `${label}step ${step}`);
  }
  await Promise.all(pgs.map((pg) => pg.destroy()));
}

test("replicas stay bitwise identical over Adam steps", async () => {
  await adamSteps(createInProcessGroups(2), "");
});

test("replicas stay bitwise identical over Adam steps with bf16 or f16 gradients on the wire", async () => {
  for (const wire of ["bf16", "f16"] as const) {
    const single = model(10);
    crossEntropy(single.forward(x), y).backward();
    // smallMessageBytes 0: every bucket takes the (compressed) ring, not recursive doubling.
    await adamSteps(createInProcessGroups(2, { wire, smallMessageBytes: 0 }), `${wire}, `, (step, models) => {
      if (step !== 0) return;
      // The averaged gradient is the whole batch's, to the wire type's precision: a few unit
      // roundoffs (2^-8 bf16, 2^-11 f16) of the tensor's largest gradient, since the two ranks'
      // halves may cancel.
      const tolerance = 4 * (wire === "bf16" ? 2 ** -8 : 2 ** -11);
      models[0]!.parameters().forEach((p, i) => {
        const expected = single.parameters()[i]!.grad!.toArray();
        const scale = Math.max(...Array.from(expected, Math.abs));
        p.grad!.toArray().forEach((v, k) => assert.ok(Math.abs(v - expected[k]!) <= tolerance * scale, `${wire}: ${v} vs ${expected[k]}`));
      });
    });
  }
});

test("the loss is averaged in float32 beside compressed gradients: a large loss is exact, not a false NaN", async () => {
  // 1e5 overflows f16 (65504), and bf16 keeps 3 digits; smallMessageBytes 0 sends even one float
  // through the compressed ring unless the loss's all-reduce asks for f32.
  for (const wire of ["bf16", "f16"] as const) {
    const pgs = createInProcessGroups(2, { wire, smallMessageBytes: 0 });
    const models = pgs.map(() => model(3));
    const ddps = await Promise.all(models.map((m, r) => DistributedDataParallel.create(m, pgs[r]!)));
    const losses = [100_001.5, 99_998.25];
    await Promise.all(models.map(async (m, r) => {
      ddps[r]!.setLoss(losses[r]!);
      crossEntropy(m.forward(shard(r).x), shard(r).y).backward();
      await ddps[r]!.finishGradients();
    }));
    for (const d of ddps) assert.equal(d.averagedLoss(), Math.fround((Math.fround(100_001.5) + Math.fround(99_998.25)) / 2), wire);
    await Promise.all(pgs.map((pg) => pg.destroy()));
  }
});

test("a parameter unused in one backward contributes zeros, or its noSync gradient, and nothing hangs", async () => {
  // Two heads; each step uses one. The unused head's slot must still be filled on every rank.
  class TwoHeads extends Sequential {
    useFirst = true;
    override forward(input: Tensor): Tensor {
      return (this.layers[this.useFirst ? 0 : 1] as Linear).forward(input);
    }
  }
  const pgs = createInProcessGroups(2);
  const models = pgs.map(() => (manualSeed(4), new TwoHeads(new Linear(6, 3), new Linear(6, 3))));
  const ddps = await Promise.all(models.map((m, r) => DistributedDataParallel.create(m, pgs[r]!, { bucketBytes: 64 })));
  const secondHead = (m: TwoHeads) => m.layers[1]!.parameters()[0]!;
  // Step 1: only the first head. The second head's averaged gradient is zero.
  await Promise.all(models.map(async (m, r) => {
    crossEntropy(m.forward(shard(r).x), shard(r).y).backward();
    await ddps[r]!.finishGradients();
  }));
  for (const m of models) assert.ok(secondHead(m).grad!.toArray().every((v) => v === 0));
  // Step 2: the second head only under noSync, then a synced backward of the first: the second
  // head's local gradient is averaged, not lost or replaced by last step's average.
  const local = await Promise.all(models.map(async (m, r) => {
    for (const p of m.parameters()) p.grad = null;
    m.useFirst = false;
    ddps[r]!.noSync(() => crossEntropy(m.forward(shard(r).x), shard(r).y).backward());
    const mine = secondHead(m).grad!.toArray();
    m.useFirst = true;
    crossEntropy(m.forward(shard(r).x), shard(r).y).backward();
    await ddps[r]!.finishGradients();
    return mine;
  }));
  const expected = local[0]!.map((v, i) => Math.fround((v + local[1]![i]!) / 2));
  for (const m of models) secondHead(m).grad!.toArray().forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) <= 1e-6 * Math.max(1, Math.abs(expected[i]!)), `${v} vs ${expected[i]}`));
  await Promise.all(pgs.map((pg) => pg.destroy()));
});

test("a bucket's all-reduce starts during backward, before the first layer's gradient is ready", async () => {
  const pgs = createInProcessGroups(2);
  const events: string[] = [];
  const start = pgs[0]!.allReduceAsync.bind(pgs[0]);
  pgs[0]!.allReduceAsync = (buffer, options) => {
    events.push(`allReduce(${buffer.length})`);
    return start(buffer, options);
  };
  const { models, ddps } = await replicas(pgs);
  assert.ok(ddps[0]!.bucketSizes().length >= 3, `several buckets: ${ddps[0]!.bucketSizes().join(", ")}`);
  models[0]!.parameters()[0]!.onGradReady(() => events.push("first layer ready"));
  models.forEach((m, r) => crossEntropy(m.forward(shard(r).x), shard(r).y).backward());
  await Promise.all(ddps.map((d) => d.finishGradients()));
  const firstLayer = events.indexOf("first layer ready");
  assert.ok(events.slice(0, firstLayer).some((e) => e.startsWith("allReduce")), events.join(" "));
  await Promise.all(pgs.map((pg) => pg.destroy()));
});

test("noSync accumulates gradients locally; the next synced backward averages the sum", async () => {
  const pgs = createInProcessGroups(2);
  let calls = 0;
  for (const pg of pgs) {
    const start = pg.allReduceAsync.bind(pg);
    pg.allReduceAsync = (b, o) => (calls++, start(b, o));
  }
  const { models, ddps } = await replicas(pgs);
  const single = model(10);
  // Two micro-batches per rank: one under noSync, one synced.
  const micro = (r: number, k: number) => ({ x: slice(x, 0, 4 * r + 2 * k, 4 * r + 2 * k + 2), y: y.subarray(4 * r + 2 * k, 4 * r + 2 * k + 2) });
  models.forEach((m, r) => ddps[r]!.noSync(() => crossEntropy(m.forward(micro(r, 0).x), micro(r, 0).y).backward()));
  assert.equal(calls, 0, "no communication under noSync");
  models.forEach((m, r) => crossEntropy(m.forward(micro(r, 1).x), micro(r, 1).y).backward());
  await Promise.all(ddps.map((d) => d.finishGradients()));
  assert.ok(calls > 0);
  // Expected: the average over ranks of (sum over its micro-batches of each micro-batch's mean loss gradient).
  for (const r of [0, 1]) for (const k of [0, 1]) crossEntropy(single.forward(micro(r, k).x), micro(r, k).y).backward();
  models[1]!.parameters().forEach((p, i) => {
    const expected = single.parameters()[i]!.grad!.toArray().map((v) => v / 2);
    p.grad!.toArray().forEach((v, k) => assert.ok(Math.abs(v - expected[k]!) < 1e-6));
  });
  await Promise.all(pgs.map((pg) => pg.destroy()));
});

test("uneven inputs: ranks stop together after the shortest rank's last batch", async () => {
  const pgs = createInProcessGroups(2);
  const { models, ddps } = await replicas(pgs);
  const batches = [3, 5];
  const steps = await Promise.all(models.map(async (m, r) => {
    let done = 0;
    for (let i = 0; ; i++) {
      if (!(await ddps[r]!.allHaveWork(i < batches[r]!))) break;
      m.zeroGrad();
      crossEntropy(m.forward(shard(r).x), shard(r).y).backward();
      await ddps[r]!.finishGradients();
      done++;
    }
    return done;
  }));
  assert.deepEqual(steps, [3, 3]);
  await Promise.all(pgs.map((pg) => pg.destroy()));
});

test("replicas of different models are refused on every rank", async () => {
  const pgs = createInProcessGroups(2, { timeoutMs: 5000 });
  manualSeed(1);
  const models = [new Linear(4, 3), new Linear(4, 5)];
  const results = await Promise.allSettled(models.map((m, r) => DistributedDataParallel.create(m, pgs[r]!)));
  for (const r of results) {
    assert.equal(r.status, "rejected");
    assert.ok((r as PromiseRejectedResult).reason instanceof CollectiveMismatchError, String((r as PromiseRejectedResult).reason));
  }
  await Promise.all(pgs.map((pg) => pg.destroy()));
});

test("in a step that reuses buffers each gradient moves into its bucket: .grad is the slot from the hook on, the buffer goes back", async () => {
  // Note [the gradient moves into its bucket]. Wide enough layers that their gradients are pooled
  // (1,024 floats and up); three Adam steps, each a noSync micro-batch then a synced one, with and
  // without reuse, must end with the same bits.
  const wide = (): Sequential => {
    manualSeed(5);
    return new Sequential(new Linear(64, 32), new ReLU(), new Linear(32, 3));
  };
  const bx = randn([16, 64], new Rng(2));
  const by = Int32Array.from({ length: 16 }, (_, i) => i % 3);
  const part = (r: number, micro: number) => ({ x: slice(bx, 0, 8 * r + 4 * micro, 8 * r + 4 * micro + 4), y: by.subarray(8 * r + 4 * micro, 8 * r + 4 * micro + 4) });
  const train = async (reuse: boolean): Promise<{ digest: string; grads: number[][]; stale: Tensor | undefined; reused: number }> => {
    const pgs = createInProcessGroups(2);
    const models = pgs.map(() => wide());
    // A hook that runs before DDP's and keeps the tensor, not its numbers.
    let stale: Tensor | undefined;
    models[0]!.parameters()[0]!.onGradReady((p) => (stale = p.grad!));
    const ddps = await Promise.all(models.map((m, r) => DistributedDataParallel.create(m, pgs[r]!)));
    const opts = models.map((m) => new Adam(m.parameters(), { lr: 0.01 }));
    const reusedBefore = buffersReused();
    for (let step = 0; step < 3; step++) {
      const run = async (): Promise<void> => {
        for (const [r, m] of models.entries()) {
          opts[r]!.zeroGrad();
          ddps[r]!.noSync(() => crossEntropy(m.forward(part(r, 0).x), part(r, 0).y).backward());
          crossEntropy(m.forward(part(r, 1).x), part(r, 1).y).backward();
          const buffers = new Set(m.parameters().map((p) => p.grad!.data.buffer));
          if (reuse) assert.equal(buffers.size, 1, "every gradient is a slot of the one bucket before the all-reduce");
        }
        await Promise.all(ddps.map((d) => d.finishGradients()));
        opts.forEach((o) => o.step());
      };
      await (reuse ? reusingBuffers(run) : run());
    }
    assert.equal(ddps[0]!.parameterDigest(), ddps[1]!.parameterDigest());
    const out = { digest: ddps[0]!.parameterDigest(), grads: models[0]!.parameters().map((p) => p.grad!.toArray()), stale, reused: buffersReused() - reusedBefore };
    await Promise.all(pgs.map((pg) => pg.destroy()));
    return out;
  };
  const fresh = await train(false);
  const reused = await train(true);
  assert.equal(reused.digest, fresh.digest, "the same parameters after three steps");
  assert.deepEqual(reused.grads, fresh.grads, "the same last gradients");
  assert.ok(reused.reused > 0, "later steps' backwards got earlier steps' gradient buffers back");
  assert.throws(() => reused.stale!.dense(), /storage was reused/);
  assert.ok(fresh.stale!.dense().length > 0, "without reuse the kept tensor stays readable");
});

test("where collectives run on the calling thread the loss's all-reduce follows the gradients'; elsewhere it starts before backward", async () => {
  // Note [the loss is averaged beside the gradients]: on shared memory (and a group of one) each
  // all-reduce is a meeting of the ranks, so the loss's waits for the gradients' to be one.
  const orderOf = async (pg: ProcessGroup, others: ProcessGroup[] = []): Promise<{ atSetLoss: number[]; atEnd: number[]; loss: number }> => {
    const calls: number[] = [];
    const start = pg.allReduceAsync.bind(pg);
    pg.allReduceAsync = (buffer, options) => {
      calls.push((buffer as Float32Array).length);
      return start(buffer, options);
    };
    const groups = [pg, ...others];
    const models = groups.map(() => model(3));
    const ddps = await Promise.all(models.map((m, r) => DistributedDataParallel.create(m, groups[r]!)));
    let atSetLoss: number[] = [];
    await Promise.all(models.map(async (m, r) => {
      ddps[r]!.setLoss(r + 1);
      if (r === 0) atSetLoss = [...calls];
      crossEntropy(m.forward(shard(r).x), shard(r).y).backward();
      await ddps[r]!.finishGradients();
    }));
    return { atSetLoss, atEnd: calls, loss: ddps[0]!.averagedLoss() };
  };
  const alone = await initProcessGroup();
  assert.equal(alone.transport, "single");
  const inline = await orderOf(alone);
  assert.deepEqual(inline.atSetLoss, [], "nothing is started at setLoss");
  assert.deepEqual(inline.atEnd, [163, 1], "the bucket, then the loss");
  assert.equal(inline.loss, 1);
  const [a, b] = createInProcessGroups(2);
  const elsewhere = await orderOf(a!, [b!]);
  assert.deepEqual(elsewhere.atSetLoss, [1], "the loss's all-reduce starts before backward");
  assert.deepEqual(elsewhere.atEnd, [1, 163]);
  assert.equal(elsewhere.loss, 1.5);
  await Promise.all([alone, a!, b!].map((pg) => pg.destroy()));
});
