// A ZeRO-3 checkpoint written by 4 workers through fit(): one file per rank, pruned per rank;
// it loads into one process and into 2 workers (re-sharded at set-up); the loaded parameters are
// the writer's bit for bit, and training goes on from them: the 2 workers' first step after the
// resume has the loss, and reaches the parameters, that one process gets from the same
// checkpoint on the union of their batches. A set with a file missing is skipped with a warning.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { collateLabeled, DataLoader, DistributedSampler, splitLabeled, type LabeledBatch, type LabeledSample } from "../../src/data/index.js";
import { createInProcessGroups } from "../../src/distributed/group/in-process-group.js";
import type { Strategy } from "../../src/distributed/strategies/strategy.js";
import { ZeroStrategy } from "../../src/distributed/strategies/zero.js";
import { Linear, manualSeed, ReLU, Sequential, sequentialLayerStack, type LayerStack } from "../../src/nn/index.js";
import { Adam } from "../../src/optim/index.js";
import { crossEntropy, Tensor } from "../../src/tensor/index.js";
import { loadNewestCheckpoint } from "../../src/train/checkpoint-folder.js";
import { fit, type FitResult } from "../../src/train/fit.js";
import { Rng } from "../../src/util/rng.js";
import { flatParameters, maxDiff } from "../distributed/helpers/toy-training.js";

const N = 96, BATCH = 4;
const rng = new Rng(41);
const samples: LabeledSample[] = Array.from({ length: N }, () => ({ x: Float32Array.from({ length: 6 }, () => rng.normal()), y: rng.int(3) }));
const dataset = { length: N, get: (i: number) => samples[i]! };
const collate = collateLabeled({ sampleShape: [6] });
const loaderFor = (rank: number, world: number) =>
  new DataLoader(dataset, { batchSize: BATCH, collate, seed: 3, sampler: new DistributedSampler(N, { rank, worldSize: world, seed: 3 }) });

function model(): Sequential {
  manualSeed(5);
  return new Sequential(new Linear(6, 12), new ReLU(), new Linear(12, 12), new ReLU(), new Linear(12, 3));
}
const stackOf = (m: Sequential) => sequentialLayerStack<LabeledBatch>(m, {
  input: (b) => new Tensor(b.x, b.xShape), loss: (out, b) => crossEntropy(out, b.y), split: splitLabeled, samplesIn: (b) => b.y.length,
});
const lossOf = (m: Sequential, b: LabeledBatch) => crossEntropy(m.forward(new Tensor(b.x, b.xShape)), b.y);

/** fit() on `world` in-process ZeRO-3 ranks (or one process with `single`). */
async function run(world: number, dir: string, o: { maxSteps: number; resume?: boolean; everySteps?: number; onLoss?: (rank: number, loss: number) => void }) {
  const pgs = world === 1 ? [undefined] : createInProcessGroups(world);
  const models = pgs.map(() => model());
  const results = await Promise.all(pgs.map((pg, rank) => {
    const m = models[rank]!;
    const strategy: Strategy | undefined = pg ? new ZeroStrategy(pg, { stage: 3 }) : undefined;
    return fit({
      model: m, optimizer: new Adam(m.parameters(), { lr: 0.01 }), data: loaderFor(rank, world), layers: stackOf(m) as LayerStack<LabeledBatch>,
      loss: lossOf, samplesIn: (b) => b.y.length, epochs: 4, maxSteps: o.maxSteps, ...(strategy ? { strategy } : {}),
      checkpoint: { dir, keep: 2, ...(o.everySteps ? { everySteps: o.everySteps } : {}) }, ...(o.resume ? { resumeFrom: dir } : {}),
      onWarning: () => {}, onStep: (info) => o.onLoss?.(rank, info.loss),
    });
  }));
  return { models, results: results as FitResult[] };
}

test("a ZeRO-3 checkpoint of 4 workers loads into one process and into 2 workers, and training goes on from it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-zero-ckpt-"));
  try {
    const writer = await run(4, dir, { maxSteps: 6, everySteps: 2 });
    // Each rank wrote its file per checkpoint and kept two of its own: steps 4 and 6.
    assert.deepEqual(readdirSync(dir).sort(), [4, 6].flatMap((s) => [0, 1, 2, 3].map((r) => `step-${s}.shard-${r}-of-4.safetensors`)).sort());
    const written = flatParameters(writer.models[0]!);

    // One process: the whole state, bit for bit.
    const alone = model();
    const opt = new Adam(alone.parameters(), { lr: 0.01 });
    const loaded = await loadNewestCheckpoint(dir, { model: alone, optimizer: opt }, () => {});
    assert.equal(loaded.step, 6);
    assert.deepEqual(flatParameters(alone), written);
    assert.equal(opt.stepCount, 6);

    // 2 workers resume at the same sample: step 6 of 4 ranks is step 12 of 2. Their first step
    // equals one process, from the same checkpoint, on the union of the two ranks' batches.
    const first: number[] = [];
    const two = await run(2, dir, { maxSteps: 13, resume: true, onLoss: (_r, loss) => first.push(loss) });
    assert.deepEqual(two.results.map((r) => r.resumed_from_step), [6, 6]);
    assert.deepEqual(two.results.map((r) => r.final_step), [13, 13]);
    const union = [0, 1].map(async (r) => {
      for await (const b of loaderFor(r, 2).epoch(1, 0)) return b; // step 13 is batch 0 of epoch 1 (12 batches per epoch on 2 ranks)
      throw new Error("no batch");
    });
    const [b0, b1] = await Promise.all(union);
    const x = new Float32Array([...b0!.x, ...b1!.x]);
    const y = Int32Array.from([...b0!.y, ...b1!.y]);
    opt.zeroGrad();
    const loss = crossEntropy(alone.forward(new Tensor(x, [2 * BATCH, 6])), y);
    const expected = loss.item();
    loss.backward();
    opt.step();
    assert.ok(Math.abs(first[0]! - expected) < 1e-6, `first resumed loss ${first[0]} vs ${expected}`);
    assert.ok(maxDiff(flatParameters(two.models[0]!), flatParameters(alone)) < 1e-5);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a sharded checkpoint with a file missing is skipped for the one before it, and other layouts are refused in one line", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-zero-ckpt-"));
  try {
    await run(2, dir, { maxSteps: 4, everySteps: 2 });
    rmSync(join(dir, "step-4.shard-1-of-2.safetensors"));
    const warnings: string[] = [];
    const m = model();
    const loaded = await loadNewestCheckpoint(dir, { model: m, optimizer: new Adam(m.parameters(), { lr: 0.01 }) }, (line) => warnings.push(line));
    assert.equal(loaded.step, 2);
    assert.match(warnings.join("\n"), /step-4\.shard-0-of-2\.safetensors is damaged, resuming from step-2\.shard-0-of-2\.safetensors instead: .*has 1 of its 2 shard files/);
    // Step 2 of 2 ranks is no whole number of steps of 3.
    await assert.rejects(run(3, dir, { maxSteps: 8, resume: true }), /2 steps into epoch 0 on 2 rank\(s\), which is no whole number of steps on 3; resume on 2 ranks, or on a number that divides 4/);
    const pg = createInProcessGroups(1)[0]!;
    const one = model();
    await assert.rejects(fit({
      model: one, optimizer: new Adam(one.parameters(), { lr: 0.01 }), data: loaderFor(0, 1), loss: lossOf, samplesIn: () => BATCH,
      strategy: new ZeroStrategy(pg, { stage: 1 }), checkpoint: { path: join(dir, "one.safetensors") },
    }), /writes one checkpoint file per worker: give a checkpoint folder/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
