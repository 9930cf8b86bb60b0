// Tensor parallelism (--strategy tensor) between real processes over shared memory, where its
// inline all-reduces run: the split GPT trains as one process does on the same seed and batches
// (T = 2; and T = 2 × D = 2 on 4 ranks against one process on the union of the two data shards'
// batches), every rank ends with the same put-together model, and its state shards cover each
// element of the model exactly once; and a rank killed mid-training makes the other fail with
// PeerLostError. (The one-line errors and one rank through runRecipe are in
// tensor-parallel-checks.test.ts, each layer against the unsplit one in tensor-parallel-layers.)
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadShardedCheckpoint, shardFileName } from "../../../src/train/sharded-checkpoint.js";
import { spawnRanks, type RankResult } from "../helpers/spawn-ranks.js";
import { assertRanksExitedCleanly } from "../helpers/rank-checks.js";
import { tpModel, tpOptimizer, unionBatch, TP_CONFIG, TP_LR } from "../workers/tensor-parallel-setup.js";

const STEPS = 20;

/** One process: the tiny GPT trained on the union of `shards` data shards' batches, step by step. */
function reference(shards: number): { losses: number[]; params: Map<string, Float32Array> } {
  const model = tpModel(0);
  const optimizer = tpOptimizer(model.parameters());
  const losses: number[] = [];
  for (let step = 1; step <= STEPS; step++) {
    optimizer.zeroGrad();
    const loss = model.loss(unionBatch(step, shards));
    losses.push(loss.item());
    loss.backward();
    optimizer.step();
  }
  return { losses, params: new Map(model.namedParameters().map(([n, t]) => [n, t.dense().slice()])) };
}

interface TrainRow {
  rank: number;
  losses: number[];
  digest: string;
  transport: string;
  dataRank: number;
  memory: { parameters: number; gradients: number; optimizer: number };
  stepMs: number[];
  shard: Record<string, { shape: number[]; dim: number | "flat"; start: number; end: number; length: number }>;
  optimizerShard: number;
  params?: Record<string, number[]>;
}

async function trainRanks(tp: number, dp: number, dir?: string): Promise<TrainRow[]> {
  const world = tp * dp;
  const args = ["train", String(tp), String(dp), String(STEPS), ...(dir === undefined ? [] : [dir])];
  const results: RankResult[] = await spawnRanks({ worldSize: world, script: "tensor-parallel-worker.js", args, env: { WEFT_LOCAL_WORLD_SIZE: String(world) } });
  assertRanksExitedCleanly(results);
  return results.map((r) => {
    const row = r.json.find((j) => j.check === "train");
    assert.ok(row, `rank ${r.rank} reported nothing:\n${r.stderr}`);
    return row as unknown as TrainRow;
  });
}

/**
 * The split run against one process. Only summation order differs (Note [tensor parallel matches
 * one process]), and training carries the differences along: over 20 Adam steps (lr 3e-3) the
 * losses agree within 1e-5 (measured: at most 5e-7) and the parameters within 1e-5 (measured: at
 * most 2e-6), except the key projection's bias. Its gradient is zero in exact arithmetic (adding
 * the same vector to every key adds the same number to a query's scores, which softmax ignores),
 * so what it gets is rounding noise of ~1e-9, and Adam, dividing each gradient by its own running
 * scale, turns noise into steps of up to about lr: for those 2 × 32 elements the bound is 2 × 20
 * steps × lr (measured: up to 4e-4, in either run direction).
 */
function assertMatches(rows: TrainRow[], ref: { losses: number[]; params: Map<string, Float32Array> }, label: string): void {
  for (const row of rows) {
    assert.equal(row.transport, "shared-memory");
    assert.deepEqual(row.losses, rows[0]!.losses, `${label}: rank ${row.rank} saw other losses than rank 0`);
    assert.equal(row.digest, rows[0]!.digest, `${label}: rank ${row.rank}'s put-together model differs from rank 0's`);
  }
  const lossDiff = Math.max(...rows[0]!.losses.map((l, i) => Math.abs(l - ref.losses[i]!)));
  const { dim } = TP_CONFIG;
  let paramDiff = 0;
  let keyBiasDiff = 0;
  for (const [name, values] of Object.entries(rows[0]!.params!)) {
    const expected = ref.params.get(name)!;
    assert.equal(values.length, expected.length, name);
    const keyBias = name.endsWith(".attn.qkv.bias");
    values.forEach((v, i) => {
      const d = Math.abs(v - expected[i]!);
      if (keyBias && i >= dim && i < 2 * dim) keyBiasDiff = Math.max(keyBiasDiff, d);
      else paramDiff = Math.max(paramDiff, d);
    });
  }
  process.stdout.write(`# ${label}: max |loss - one process| ${lossDiff.toExponential(2)}, max |parameter - one process| ${paramDiff.toExponential(2)}, key bias ${keyBiasDiff.toExponential(2)}\n`);
  assert.ok(lossDiff < 1e-5, `${label}: losses differ from one process's by ${lossDiff}`);
  assert.ok(paramDiff < 1e-5, `${label}: parameters differ from one process's by ${paramDiff}`);
  assert.ok(keyBiasDiff < 2 * STEPS * TP_LR, `${label}: the key bias differs from one process's by ${keyBiasDiff}`);
  assert.ok(rows[0]!.losses.at(-1)! < rows[0]!.losses[0]! - 0.5, `${label}: the loss did not fall: ${rows[0]!.losses.join(", ")}`);
}

/** Every element of every model tensor is in exactly one rank's state shard. */
function assertShardsCover(rows: TrainRow[]): void {
  const model = tpModel(0);
  const covered = new Map(model.namedParameters().map(([n, t]) => [n, new Uint8Array(t.size)]));
  for (const row of rows) {
    for (const [name, s] of Object.entries(row.shard)) {
      const c = covered.get(name)!;
      const size = s.shape.reduce((a, b) => a * b, 1);
      assert.equal(size, c.length, `${name}: the slice's shape [${s.shape.join(", ")}] is not the tensor's ${c.length} elements`);
      if (s.dim === "flat") {
        for (let i = s.start; i < s.end; i++) c[i]!++;
      } else {
        const d = s.dim;
        const outer = s.shape.slice(0, d).reduce((a, b) => a * b, 1);
        const inner = s.shape.slice(d + 1).reduce((a, b) => a * b, 1);
        for (let o = 0; o < outer; o++) for (let k = s.start; k < s.end; k++) for (let i = 0; i < inner; i++) c[(o * s.shape[d]! + k) * inner + i]!++;
      }
      assert.equal(s.length, ((s.end - s.start) * size) / (s.dim === "flat" ? size : s.shape[s.dim]!), `${name}: slice data length`);
    }
  }
  for (const [name, c] of covered) assert.ok(c.every((n) => n === 1), `${name}: an element is in ${c.find((n) => n !== 1)} shards, not one`);
  // Adam's two state tensors travel with each model slice, placed as it is.
  for (const row of rows) assert.equal(row.optimizerShard, 2 * Object.keys(row.shard).length, `rank ${row.rank}: optimizer slices`);
}

test("T = 2: the split GPT trains as one process does for 20 steps, both ranks end with the same model, and the shards cover it once", async () => {
  const rows = await trainRanks(2, 1);
  assertMatches(rows, reference(1), "T=2");
  assertShardsCover(rows);
  assert.ok(rows.every((r) => r.dataRank === 0), "the ranks of one tensor-parallel group read the same batches");
  // Each rank holds half of the split tensors and all of the replicated ones (below a full model).
  const full = tpModel(0).parameterCount() * 4;
  for (const r of rows) {
    assert.ok(r.memory.parameters < 0.6 * full && r.memory.parameters > 0.5 * full, `rank ${r.rank} holds ${r.memory.parameters} of ${full} parameter bytes`);
    assert.equal(r.memory.optimizer, 2 * r.memory.parameters, "Adam: two state floats per local parameter");
  }
});

test("T = 2 × D = 2 on 4 ranks trains as one process on the union of both data shards' batches", async () => {
  const rows = await trainRanks(2, 2);
  assertMatches(rows, reference(2), "T=2 x D=2");
  assertShardsCover(rows);
  assert.deepEqual(rows.map((r) => r.dataRank), [0, 0, 1, 1], "rank d·T + t reads data shard d");
  assert.deepEqual(Object.keys(rows[2]!.shard), [], "the second replica writes nothing the first does not");
});

test("T = 4 (heads and vocabulary split four ways) trains as one process does", async () => {
  const rows = await trainRanks(4, 1);
  assertMatches(rows, reference(1), "T=4");
  assertShardsCover(rows);
});


test("a rank killed between steps: the other's next step fails with PeerLostError naming it, well within the deadline", async () => {
  const results = await spawnRanks({ worldSize: 2, script: "tensor-parallel-worker.js", args: ["kill"], env: { WEFT_LOCAL_WORLD_SIZE: "2" } });
  assert.equal(results[1]!.signal, "SIGKILL");
  assert.equal(results[0]!.code, 0, results[0]!.stderr);
  const row = results[0]!.json.find((j) => j.check === "kill");
  assert.ok(row, `rank 0 reported nothing:\n${results[0]!.stderr}`);
  assert.equal(row.error, "PeerLostError", JSON.stringify(row));
  assert.equal(row.step, 3);
  assert.deepEqual(row.ranks, [1]);
  assert.match(row.message as string, /all-reduce #\d+: the process of rank 1 is gone/);
  // The worker's deadline is 20 s: under half of it cannot have come from the deadline.
  assert.ok((row.ms as number) < 10_000, `took ${row.ms} ms`);
});

// Known gap, kept as a to-do until the loader reshapes: the qkv slices are ranges of the weight
// seen as (3, D, D) (Note [qkv as three blocks] in tensor-parallel/column-parallel-linear.ts), and
// loadShardedCheckpoint puts the tensor together under that shape, which applyTrainingCheckpoint
// compares with the model's (3D, D) and refuses. The fix is in train/sharded-checkpoint.ts: a
// model tensor assembled with the model's element count takes the model's shape.
test("the state shards of T = 2 × D = 2 load as one process's model and optimizer state", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-tp-shards-"));
  try {
    const rows = await trainRanks(2, 2, dir);
    const model = tpModel(1); // another seed: every value must come from the files
    const optimizer = tpOptimizer(model.parameters());
    await loadShardedCheckpoint([0, 1, 2, 3].map((r) => join(dir, shardFileName(STEPS, r, 4))), { model, optimizer });
    for (const [name, t] of model.namedParameters()) assert.deepEqual(Array.from(t.dense()), rows[0]!.params![name], name);
    assert.equal(optimizer.stepCount, STEPS);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
