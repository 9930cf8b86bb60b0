// A rank of the tensor-parallel tests (test/distributed/strategies/tensor-parallel*.test.ts), over
// shared memory (WEFT_LOCAL_WORLD_SIZE = world size). Prints JSON lines.
//   layers:              every layer split across all ranks against the unsplit layer on the same
//                        input: {check, forward, input, params} are max |difference|s
//   train <T> <D> <n>:   n steps of TensorParallelStrategy on the tiny GPT, T × D ranks; rank 0
//                        prints the losses, the put-together parameters, and each rank its digest,
//                        memory and step times; with a folder as a 4th argument each rank also
//                        writes its state shard there as a sharded checkpoint's file
//   kill:                T = 2; rank 1 kills itself before step 3, rank 0 reports how its step failed
//   time <T> <D> <n> <dim> <context> <batch> [plain]: the median step time of n steps of a GPT of
//                        that width and context (4 layers, 4 heads, vocabulary 96), split T × D,
//                        or with `plain` one process's plain training (run it on one rank)
import { join } from "node:path";
import { saveCheckpoint } from "../../../src/checkpoint/index.js";
import { shardFileName, snapshotStateShard } from "../../../src/train/sharded-checkpoint.js";
import { initProcessGroup } from "../../../src/distributed/group/init.js";
import type { ProcessGroup } from "../../../src/distributed/group/process-group.js";
import { TensorParallelStrategy } from "../../../src/distributed/strategies/tensor-parallel.js";
import { ColumnParallelLinear } from "../../../src/distributed/tensor-parallel/column-parallel-linear.js";
import { TensorParallelComm } from "../../../src/distributed/tensor-parallel/operators.js";
import { ParallelAttention } from "../../../src/distributed/tensor-parallel/parallel-attention.js";
import { ParallelBlock } from "../../../src/distributed/tensor-parallel/parallel-block.js";
import { RowParallelLinear } from "../../../src/distributed/tensor-parallel/row-parallel-linear.js";
import { placementOf, rangeOf, takeSlice } from "../../../src/distributed/tensor-parallel/slices.js";
import { tensorParallelGpt } from "../../../src/distributed/tensor-parallel/tensor-parallel-gpt.js";
import { vocabParallelCrossEntropy } from "../../../src/distributed/tensor-parallel/vocab-parallel-cross-entropy.js";
import { VocabParallelEmbedding } from "../../../src/distributed/tensor-parallel/vocab-parallel-embedding.js";
import { CausalSelfAttention, Embedding, Linear, manualSeed, TransformerBlock, type Module } from "../../../src/nn/index.js";
import { crossEntropy, mul, randn, slice, sum, Tensor } from "../../../src/tensor/index.js";
import { Rng } from "../../../src/util/rng.js";
import { tpBatch, tpModel, tpOptimizer, TP_CONFIG } from "./tensor-parallel-setup.js";

const [scenario, ...args] = process.argv.slice(2);
const pg = await initProcessGroup({ timeoutMs: 20_000 });
const out = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify({ rank: pg.rank, ...o })}\n`);

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

/** Max |difference| between each of `tp`'s parameter gradients and its slice of `full`'s (same names). */
function paramGradDiff(tp: Module, full: Module): number {
  const byName = new Map(full.namedParameters());
  let m = 0;
  for (const [name, local] of tp.namedParameters()) {
    const whole = byName.get(name)!;
    const p = placementOf(local);
    const expected = p ? takeSlice(whole.grad!.dense(), p) : whole.grad!.dense();
    m = Math.max(m, maxDiff(local.grad!.dense(), expected));
  }
  return m;
}

/**
 * The same seeded layer built again: the split form shares the full layer's replicated tensors
 * (layer norms, row-parallel biases), so the reference pass runs on a twin, whose gradients the
 * split pass cannot add to.
 */
function twin<M>(seed: number, make: () => M): M {
  manualSeed(seed);
  return make();
}

/** A leaf copy of `x` that records its own gradient. */
const leaf = (x: Tensor): Tensor => new Tensor(x.dense().slice(), x.shape, undefined, 0, true);

function layers(group: ProcessGroup): void {
  const comm = new TensorParallelComm(group);
  const { rank, worldSize: size } = group;
  const rng = new Rng(7); // the same on every rank
  const x = randn([2, 5, 16], rng); // (B, T, D)
  const weigh = (y: Tensor): Tensor => sum(mul(y, randn(y.shape as number[], new Rng(y.size))));
  const report = (check: string, forward: number, input: number, params: number): void => out({ check, forward, input, grads: params });

  { // column-parallel: the rank's output features
    const full = twin(1, () => new Linear(16, 24));
    const tp = new ColumnParallelLinear(twin(1, () => new Linear(16, 24)), comm);
    const xf = leaf(x), xt = leaf(x);
    const yf = full.forward(xf);
    const w = randn(yf.shape as number[], new Rng(3));
    sum(mul(yf, w)).backward();
    const yt = tp.forward(xt);
    const { start, end } = tp.range;
    sum(mul(yt, slice(w, 2, start, end))).backward();
    report("column-parallel", maxDiff(yt.dense(), slice(yf, 2, start, end).dense()), maxDiff(xt.grad!.dense(), xf.grad!.dense()), paramGradDiff(tp, full));
  }
  { // row-parallel: the rank's input features in, the whole output out
    const full = twin(2, () => new Linear(24, 16));
    const tp = new RowParallelLinear(twin(2, () => new Linear(24, 16)), comm);
    const x24 = randn([2, 5, 24], new Rng(4));
    const xf = leaf(x24);
    const { start, end } = rangeOf(24, size, rank);
    const xt = leaf(slice(x24, 2, start, end));
    const yf = full.forward(xf);
    weigh(yf).backward();
    const yt = tp.forward(xt);
    weigh(yt).backward();
    report("row-parallel", maxDiff(yt.dense(), yf.dense()), maxDiff(xt.grad!.dense(), slice(xf.grad!, 2, start, end).dense()), paramGradDiff(tp, full));
  }
  { // attention by heads
    const full = twin(3, () => new CausalSelfAttention(16, 4));
    const tp = new ParallelAttention(twin(3, () => new CausalSelfAttention(16, 4)), comm);
    const xf = leaf(x), xt = leaf(x);
    const yf = full.forward(xf);
    weigh(yf).backward();
    const yt = tp.forward(xt);
    weigh(yt).backward();
    report("attention", maxDiff(yt.dense(), yf.dense()), maxDiff(xt.grad!.dense(), xf.grad!.dense()), paramGradDiff(tp, full));
  }
  { // a whole block: attention and the MLP
    const full = twin(4, () => new TransformerBlock(16, 4));
    const tp = new ParallelBlock(twin(4, () => new TransformerBlock(16, 4)), comm);
    const xf = leaf(x), xt = leaf(x);
    const yf = full.forward(xf);
    weigh(yf).backward();
    const yt = tp.forward(xt);
    weigh(yt).backward();
    report("block", maxDiff(yt.dense(), yf.dense()), maxDiff(xt.grad!.dense(), xf.grad!.dense()), paramGradDiff(tp, full));
  }
  { // vocabulary-parallel embedding (30 rows: uneven over 4 ranks)
    const full = twin(5, () => new Embedding(30, 8));
    const tp = new VocabParallelEmbedding(twin(5, () => new Embedding(30, 8)), comm);
    const ids = Int32Array.from({ length: 12 }, (_, i) => (i * 7) % 30);
    const yf = full.lookup(ids, [3, 4]);
    weigh(yf).backward();
    const yt = tp.lookup(ids, [3, 4]);
    weigh(yt).backward();
    report("vocab-embedding", maxDiff(yt.dense(), yf.dense()), 0, paramGradDiff(tp, full));
  }
  { // vocabulary-parallel cross-entropy against crossEntropy on the whole rows (30 classes: uneven)
    const logits = randn([10, 30], new Rng(6), 3);
    const targets = Int32Array.from({ length: 10 }, (_, i) => (i * 11) % 30);
    targets[3] = -100; // ignored, as in crossEntropy
    const lf = leaf(logits);
    const lossF = crossEntropy(lf, targets);
    lossF.backward();
    const { start, end } = rangeOf(30, size, rank);
    const lt = leaf(slice(logits, 1, start, end));
    const lossT = vocabParallelCrossEntropy(lt, targets, start, 30, comm);
    lossT.backward();
    report("vocab-cross-entropy", Math.abs(lossT.item() - lossF.item()), maxDiff(lt.grad!.dense(), slice(lf.grad!, 1, start, end).dense()), 0);
  }
  { // the whole GPT: loss and every parameter's gradient
    const full = tpModel(0);
    const batch = tpBatch(0, 0);
    const lossF = full.loss(batch);
    lossF.backward();
    const twin = tpModel(0); // its replicated tensors collect the TP pass's gradients
    const tp = tensorParallelGpt(twin, group);
    const lossT = tp.loss(batch);
    lossT.backward();
    report("gpt", Math.abs(lossT.item() - lossF.item()), 0, paramGradDiff(tp.model, full));
  }
}

async function train(tp: number, dp: number, steps: number, dir?: string): Promise<void> {
  const strategy = new TensorParallelStrategy(pg, { tp, dp });
  const model = tpModel(0);
  const optimizer = tpOptimizer(model.parameters());
  await strategy.setup(model, optimizer, { tensorParallel: (g) => tensorParallelGpt(model, g) });
  const losses: number[] = [];
  const stepMs: number[] = [];
  const commMs: number[] = [];
  for (let step = 1; step <= steps; step++) {
    const t0 = performance.now();
    const outcome = await strategy.step({ step, forward: () => { throw new Error("the strategy must not call forward"); }, batch: tpBatch(step, strategy.dataShard.rank) });
    stepMs.push(performance.now() - t0);
    commMs.push(outcome.commMs);
    losses.push(outcome.loss);
  }
  const shard = strategy.stateShard();
  if (dir !== undefined) {
    const file = snapshotStateShard(shard, steps, pg.rank, pg.worldSize, null);
    await saveCheckpoint(join(dir, shardFileName(steps, pg.rank, pg.worldSize)), file.tensors, file.metadata);
  }
  await strategy.finish();
  const report = strategy.report();
  out({
    check: "train", losses, digest: report.digest, transport: report.transport, memory: strategy.memory(), stepMs, commMs,
    dataRank: strategy.dataShard.rank, shard: Object.fromEntries(Object.entries(shard.model).map(([n, s]) => [n, { shape: s.shape, dim: s.dim, start: s.start, end: s.end, length: s.data.length }])),
    optimizerShard: Object.keys(shard.optimizer).length,
    ...(pg.rank === 0 ? { params: Object.fromEntries(model.namedParameters().map(([n, t]) => [n, Array.from(t.dense())])) } : {}),
  });
}

async function time(tp: number, dp: number, steps: number, dim: number, context: number, batch: number, plain: boolean): Promise<void> {
  const config = { vocab: 96, context, layers: 4, dim, heads: 4 };
  const model = tpModel(0, config);
  const optimizer = tpOptimizer(model.parameters());
  const strategy = plain ? undefined : new TensorParallelStrategy(pg, { tp, dp });
  await strategy?.setup(model, optimizer, { tensorParallel: (g) => tensorParallelGpt(model, g) });
  const ms: number[] = [];
  const comm: number[] = [];
  for (let step = 1; step <= steps; step++) {
    const b = tpBatch(step, strategy?.dataShard.rank ?? 0, batch, config);
    const t0 = performance.now();
    if (strategy) {
      comm.push((await strategy.step({ step, forward: () => { throw new Error("unused"); }, batch: b })).commMs);
    } else {
      optimizer.zeroGrad();
      const loss = model.loss(b);
      loss.backward();
      optimizer.step();
    }
    ms.push(performance.now() - t0);
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  out({ check: "time", stepMs: median(ms.slice(2)), commMs: median(comm.slice(2)), parameters: model.parameterCount() });
}

async function kill(): Promise<void> {
  const strategy = new TensorParallelStrategy(pg, { tp: 2 });
  const model = tpModel(0);
  await strategy.setup(model, tpOptimizer(model.parameters()), { tensorParallel: (g) => tensorParallelGpt(model, g) });
  for (let step = 1; step <= 5; step++) {
    if (step === 3 && pg.rank === 1) process.kill(process.pid, "SIGKILL");
    const t0 = performance.now();
    try {
      await strategy.step({ step, forward: () => { throw new Error("unused"); }, batch: tpBatch(step, 0) });
    } catch (err) {
      const e = err as Error & { ranks?: number[] };
      out({ check: "kill", step, error: e.constructor.name, message: e.message, ranks: e.ranks, ms: Math.round(performance.now() - t0) });
      return;
    }
  }
  out({ check: "kill", error: null });
}

switch (scenario) {
  case "layers":
    layers(pg);
    break;
  case "train":
    await train(Number(args[0]), Number(args[1]), Number(args[2]), args[3]);
    break;
  case "kill":
    await kill();
    process.exit(0); // the group lost a rank: nothing left to close in order
  case "time":
    await time(Number(args[0]), Number(args[1]), Number(args[2]), Number(args[3]), Number(args[4]), Number(args[5]), args[6] === "plain");
    break;
  default:
    throw new Error(`tensor-parallel-worker: unknown scenario ${scenario}`);
}
await pg.destroy();
