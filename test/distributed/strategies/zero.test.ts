// ZeRO stages 1, 2 and 3 on in-process groups: 20 steps of Adam equal a single process trained on
// the union of the ranks' batches (losses and final parameters; Note [zero matches DDP]); replicas
// end bitwise equal; the shards of the state, put together, are the single process's state; the
// memory each rank reports shrinks as the issue asks; bad set-ups fail in one line.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createInProcessGroups } from "../../../src/distributed/group/in-process-group.js";
import { DdpStrategy } from "../../../src/distributed/strategies/ddp-strategy.js";
import type { StateShard, Strategy } from "../../../src/distributed/strategies/strategy.js";
import { ZeroStrategy, type ZeroStage } from "../../../src/distributed/strategies/zero.js";
import { Linear, manualSeed, ReLU, Sequential, sequentialLayerStack, type LayerStack } from "../../../src/nn/index.js";
import { Adam } from "../../../src/optim/index.js";
import { concat, crossEntropy, randn, Tensor } from "../../../src/tensor/index.js";
import { Rng } from "../../../src/util/rng.js";
import { flatParameters, maxDiff } from "../helpers/toy-training.js";

interface Batch { x: Tensor; y: Int32Array }

/** 6 inputs, `depth` hidden layers, 3 classes (by default sizes that are not multiples of 2 or 3, so units are padded). */
function model(seed: number, hidden = 13, depth = 1): Sequential {
  manualSeed(seed);
  const middle = Array.from({ length: depth }, () => [new Linear(hidden, hidden), new ReLU()]).flat();
  return new Sequential(new Linear(6, hidden), new ReLU(), ...middle, new Linear(hidden, 3));
}

function batchOf(r: number, t: number): Batch {
  const rng = new Rng(900 + r).fork(t);
  return { x: randn([8, 6], rng), y: Int32Array.from({ length: 8 }, () => rng.int(3)) };
}

const stackOf = (m: Sequential): LayerStack<unknown> => sequentialLayerStack<Batch>(m, {
  input: (b) => b.x, loss: (out, b) => crossEntropy(out, b.y), split: () => { throw new Error("not split"); }, samplesIn: (b) => b.y.length,
}) as LayerStack<unknown>;

/** Trains `n` ranks (different initial models: set-up must take rank 0's) for `steps` steps. */
async function train(n: number, steps: number, make: (pg: ReturnType<typeof createInProcessGroups>[number]) => Strategy, hidden = 13, depth = 1) {
  const pgs = createInProcessGroups(n);
  const models = pgs.map((_, r) => model(10 + r, hidden, depth));
  const strategies = pgs.map(make);
  await Promise.all(strategies.map((s, r) => s.setup(models[r]!, new Adam(models[r]!.parameters(), { lr: 0.02 }), { layers: stackOf(models[r]!) })));
  const losses: number[] = [];
  for (let t = 1; t <= steps; t++) {
    const out = await Promise.all(strategies.map((s, r) => {
      const b = batchOf(r, t);
      return s.step({ step: t, forward: () => crossEntropy(models[r]!.forward(b.x), b.y), batch: b });
    }));
    assert.ok(out.every((o) => o.loss === out[0]!.loss), "every rank reports the same averaged loss");
    losses.push(out[0]!.loss);
  }
  await Promise.all(strategies.map((s) => s.finish()));
  return { models, strategies, losses };
}

/** One process on the union of the ranks' batches, from rank 0's initial model. */
function single(n: number, steps: number) {
  const m = model(10);
  const opt = new Adam(m.parameters(), { lr: 0.02 });
  const losses: number[] = [];
  for (let t = 1; t <= steps; t++) {
    const bs = Array.from({ length: n }, (_, r) => batchOf(r, t));
    const x = concat(bs.map((b) => b.x), 0);
    const y = Int32Array.from(bs.flatMap((b) => [...b.y]));
    opt.zeroGrad();
    const loss = crossEntropy(m.forward(x), y);
    losses.push(loss.item());
    loss.backward();
    opt.step();
  }
  return { model: m, optimizer: opt, losses };
}

// Float tolerance: the gradients are averaged in the ring's order, the single process sums the
// 16 or 24 samples in one pass, so the two differ in the last bits of each step and Adam carries
// the difference on; 20 steps stay within a few 1e-6 of each other.
const TOLERANCE = 2e-5;

for (const stage of [1, 2, 3] as ZeroStage[]) {
  for (const n of [2, 3]) {
    test(`zero stage ${stage} on ${n} ranks equals one process on the union of the batches for 20 steps`, async () => {
      const ref = single(n, 20);
      const { models, strategies, losses } = await train(n, 20, (pg) => new ZeroStrategy(pg, { stage, bucketBytes: 256 }));
      assert.ok(maxDiff(Float32Array.from(losses), Float32Array.from(ref.losses)) < TOLERANCE, `losses ${losses} vs ${ref.losses}`);
      const want = flatParameters(ref.model);
      for (const m of models) assert.ok(maxDiff(flatParameters(m), want) < TOLERANCE, `parameters off by ${maxDiff(flatParameters(m), want)}`);
      const digests = strategies.map((s) => s.report().digest);
      assert.ok(digests[0] !== "" && digests.every((d) => d === digests[0]), "replicas end bitwise equal");
      // The shards together are the whole state: parameters and Adam's moments, each element once.
      const shards = strategies.map((s) => s.stateShard!());
      assertShardsCover(shards, ref.model, ref.optimizer);
    });
  }
}

test("zero stages 1 and 2 reach the parameters DDP reaches, to rounding", async () => {
  const ddp = await train(2, 10, (pg) => new DdpStrategy(pg));
  for (const stage of [1, 2] as ZeroStage[]) {
    const zero = await train(2, 10, (pg) => new ZeroStrategy(pg, { stage }));
    assert.ok(maxDiff(flatParameters(zero.models[0]!), flatParameters(ddp.models[0]!)) < 1e-6);
  }
});

/** Every element of every parameter and optimizer state is in exactly one shard, with the single process's value. */
function assertShardsCover(shards: StateShard[], m: Sequential, opt: Adam): void {
  const { buffers } = opt.stateDict();
  const index = new Map(opt.params.map((p, i) => [p, i]));
  for (const [name, p] of m.namedParameters()) {
    const expect = [[name, p.dense()], ...["exp_avg", "exp_avg_sq"].map((s) => [`${name}.${s}`, buffers[`${index.get(p)}.${s}`]!])] as [string, Float32Array][];
    for (const [key, want] of expect) {
      const seen = new Float32Array(p.size).fill(NaN);
      for (const shard of shards) {
        const slice = shard.model[key] ?? shard.optimizer[key];
        if (!slice) continue;
        assert.equal(slice.dim, "flat");
        assert.deepEqual(slice.shape, p.shape);
        for (let i = slice.start; i < slice.end; i++) {
          assert.ok(Number.isNaN(seen[i]!), `${key}[${i}] is in two shards`);
          seen[i] = slice.data[i - slice.start]!;
        }
      }
      assert.ok(maxDiff(seen, want) < TOLERANCE, `${key} assembled from the shards differs by ${maxDiff(seen, want)}`);
    }
  }
  assert.ok(shards.every((s) => s.optimizerStep === opt.stepCount));
}

test("memory per rank on 4 ranks against a replica: stage 1 optimizer state <= 1/4 + 5%, stage 3 everything <= 1/4 + 10%", async () => {
  // 18 layers of about equal size, so the layers in flight (two gathered, one's gradients) are small beside the whole.
  const [hidden, depth] = [32, 16];
  const ddp = await train(4, 1, (pg) => new DdpStrategy(pg), hidden, depth);
  const p = ddp.models[0]!.parameterCount() * 4;
  const replica = { parameters: p, gradients: p, optimizer: 2 * p }; // Adam: two moments
  const z1 = (await train(4, 2, (pg) => new ZeroStrategy(pg, { stage: 1 }), hidden, depth)).strategies[0]!.memory!();
  assert.ok(z1.optimizer <= replica.optimizer * (0.25 + 0.05), `stage 1 optimizer ${z1.optimizer} of ${replica.optimizer}`);
  const z3 = (await train(4, 2, (pg) => new ZeroStrategy(pg, { stage: 3 }), hidden, depth)).strategies[0]!.memory!();
  const total = z3.parameters + z3.gradients + z3.optimizer;
  const full = replica.parameters + replica.gradients + replica.optimizer;
  assert.ok(total <= full * (0.25 + 0.1), `stage 3 holds ${total} of a replica's ${full} (${JSON.stringify(z3)})`);
  assert.ok(z3.parameters < p / 2 && z3.gradients < p / 2, JSON.stringify(z3));
});

test("zero stage 3 without a layer stack, or a stack that misses a parameter, is refused in one line", async () => {
  const [pg] = createInProcessGroups(1);
  const m = model(1);
  await assert.rejects(new ZeroStrategy(pg!, { stage: 3 }).setup(m, new Adam(m.parameters(), { lr: 1 })), /does not describe its layers \(Recipe.layers\): use --stage 1 or 2/);
  const stack = stackOf(m);
  const partial = { ...stack, layers: stack.layers.slice(0, 2) };
  await assert.rejects(new ZeroStrategy(pg!, { stage: 3 }).setup(m, new Adam(m.parameters(), { lr: 1 }), { layers: partial }), /layer stack does not match its model: parameter\(s\) 2.weight, 2.bias/);
  assert.throws(() => new ZeroStrategy(pg!, { stage: 4 as ZeroStage }), /stage must be 1, 2 or 3, got 4/);
});

test("a non-finite loss stops every rank before any update", async () => {
  const pgs = createInProcessGroups(2);
  const models = pgs.map(() => model(3));
  const strategies = pgs.map((pg) => new ZeroStrategy(pg, { stage: 3 }));
  await Promise.all(strategies.map((s, r) => s.setup(models[r]!, new Adam(models[r]!.parameters(), { lr: 0.1 }), { layers: stackOf(models[r]!) })));
  const before = strategies.map((s) => s.stateShard!().model);
  const bad: Batch = { x: new Tensor(new Float32Array(48).fill(NaN), [8, 6]), y: new Int32Array(8) };
  const results = await Promise.allSettled(strategies.map((s, r) => s.step({ step: 7, forward: () => { throw new Error("stage 3 runs the stack"); }, batch: r === 0 ? bad : batchOf(1, 1) })));
  for (const r of results) assert.ok(r.status === "rejected" && /the loss is NaN at step 7/.test(String(r.reason)), String(r.status === "rejected" ? r.reason : "fulfilled"));
  strategies.forEach((s, r) => assert.deepEqual(s.stateShard!().model, before[r]));
});
