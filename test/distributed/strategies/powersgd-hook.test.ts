// PowerSGD against its definition, computed here in float64 without the hook's code: one power
// step per bucket with warm start and error feedback, vectors sent whole, the same bits on every
// rank; and the bytes it saves on the GPT recipe's model, against the formula.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createInProcessGroups } from "../../../src/distributed/group/in-process-group.js";
import { DdpStrategy } from "../../../src/distributed/strategies/ddp-strategy.js";
import type { GradBucket } from "../../../src/distributed/strategies/grad-hook.js";
import { PowerSgdHook } from "../../../src/distributed/strategies/powersgd-hook.js";
import { TEXT_VOCAB_SIZE } from "../../../src/data/index.js";
import { TinyGpt } from "../../../src/models/tiny-gpt.js";
import { manualSeed } from "../../../src/nn/index.js";
import { AdamW } from "../../../src/optim/index.js";
import { gptText } from "../../../src/recipes/gpt-text.js";
import { Rng } from "../../../src/util/rng.js";
import { trainReplicas } from "./hook-replicas.js";

type Matrix = { rows: number; cols: number; a: Float64Array };

const matrix = (rows: number, cols: number, f: (i: number, j: number) => number): Matrix =>
  ({ rows, cols, a: Float64Array.from({ length: rows * cols }, (_, k) => f(Math.floor(k / cols), k % cols)) });
const at = (m: Matrix, i: number, j: number): number => m.a[i * m.cols + j]!;
const product = (x: Matrix, y: Matrix): Matrix => matrix(x.rows, y.cols, (i, j) => {
  let s = 0;
  for (let l = 0; l < x.cols; l++) s += at(x, i, l) * at(y, l, j);
  return s;
});
const transposed = (m: Matrix): Matrix => matrix(m.cols, m.rows, (i, j) => at(m, j, i));
const combine = (x: Matrix, y: Matrix, f: (a: number, b: number) => number): Matrix => matrix(x.rows, x.cols, (i, j) => f(at(x, i, j), at(y, i, j)));

/** Orthonormal columns spanning the same space, column by column (classical Gram-Schmidt, float64). */
function orthonormal(m: Matrix): Matrix {
  const cols: number[][] = [];
  for (let j = 0; j < m.cols; j++) {
    const v = Array.from({ length: m.rows }, (_, i) => at(m, i, j));
    for (const u of cols) {
      const d = u.reduce((s, x, i) => s + x * v[i]!, 0);
      u.forEach((x, i) => (v[i]! -= d * x));
    }
    const norm = Math.hypot(...v);
    cols.push(v.map((x) => x / norm));
  }
  return matrix(m.rows, m.cols, (i, j) => cols[j]![i]!);
}

const ROWS = 6, COLS = 8, R = 2, BIAS = 5;

/** A bucket of a 5-vector (sent whole) then a 6 x 8 matrix (factored at rank 2: 2·14 < 48). */
function bucketOf(bias: number[], m: Matrix): GradBucket {
  return { index: 0, buffer: Float32Array.from([...bias, ...m.a]), slots: [{ offset: 0, shape: [BIAS] }, { offset: BIAS, shape: [ROWS, COLS] }] };
}

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  // float32 GEMMs and all-reduces against float64: a few float32 roundings of the largest entry.
  const scale = Math.max(...Array.from(expected, Math.abs));
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i]! - expected[i]!) <= 1e-5 * scale, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

test("PowerSGD is one power step on the average with warm start, and feeds each rank's residual M - P Qᵀ back", async () => {
  const rng = new Rng(3);
  const gradients = [0, 1].map(() => [0, 1].map(() => ({ bias: Array.from({ length: BIAS }, () => rng.normal()), m: matrix(ROWS, COLS, () => rng.normal()) })));
  const pgs = createInProcessGroups(2);
  const hooks = pgs.map(() => new PowerSgdHook({ rank: R }));
  // The documented start: Q (8 x 2) from the seed's stream for bucket 0.
  const start = new Rng(0).fork(0);
  let q = matrix(COLS, R, () => 2 * start.next() - 1);
  let residual = [matrix(ROWS, COLS, () => 0), matrix(ROWS, COLS, () => 0)];
  for (const step of [0, 1]) {
    const buckets = [0, 1].map((r) => bucketOf(gradients[step]![r]!.bias, gradients[step]![r]!.m));
    await Promise.all(pgs.map((pg, r) => hooks[r]!.reduce(buckets[r]!, pg, {})));
    // The definition: M_r = G_r + E_r; P = orth(mean(M) Q); Q = mean(M)ᵀ P; M̂ = P Qᵀ; E_r = M_r - M̂.
    const m = [0, 1].map((r) => combine(gradients[step]![r]!.m, residual[r]!, (g, e) => g + e));
    const mean = combine(m[0]!, m[1]!, (a, b) => (a + b) / 2);
    const p = orthonormal(product(mean, q));
    q = product(transposed(mean), p);
    const approx = product(p, transposed(q));
    residual = m.map((mr) => combine(mr, approx, (a, b) => a - b));
    const bias = gradients[step]![0]!.bias.map((b, i) => (b + gradients[step]![1]!.bias[i]!) / 2);
    close(buckets[0]!.buffer.subarray(0, BIAS), bias, `step ${step} bias`);
    close(buckets[0]!.buffer.subarray(BIAS), approx.a, `step ${step} matrix`);
    assert.deepEqual([...buckets[0]!.buffer], [...buckets[1]!.buffer], `step ${step}: the same bits on both ranks`);
  }
  // Step 2 checked the residuals of step 1 (they were fed back); a third step with zero gradients
  // checks step 2's: each rank's M is then its residual alone.
  const zero = [0, 1].map(() => bucketOf(new Array<number>(BIAS).fill(0), matrix(ROWS, COLS, () => 0)));
  await Promise.all(pgs.map((pg, r) => hooks[r]!.reduce(zero[r]!, pg, {})));
  const mean = combine(residual[0]!, residual[1]!, (a, b) => (a + b) / 2);
  const p = orthonormal(product(mean, q));
  close(zero[0]!.buffer.subarray(BIAS), product(p, product(transposed(p), mean)).a, "residual step");
  await Promise.all(pgs.map((pg) => pg.destroy()));
});

test("PowerSGD's first plainSteps steps are the exact average; a matrix too small to save bytes always is", async () => {
  const pgs = createInProcessGroups(2);
  const hooks = pgs.map(() => new PowerSgdHook({ rank: 2, plainSteps: 1 }));
  const small = pgs.map(() => new PowerSgdHook({ rank: 2 }));
  const data = [Float32Array.from({ length: 48 }, (_, i) => Math.sin(i)), Float32Array.from({ length: 48 }, (_, i) => Math.cos(3 * i))];
  const mean = data[0]!.map((x, i) => Math.fround((x + data[1]![i]!) / 2));
  const run = async (hs: PowerSgdHook[], shape: number[]): Promise<Float32Array[]> => {
    const buckets = data.map((d) => ({ index: 0, buffer: d.slice(), slots: [{ offset: 0, shape }] }));
    await Promise.all(pgs.map((pg, r) => hs[r]!.reduce(buckets[r]!, pg, {})));
    return buckets.map((b) => b.buffer);
  };
  for (const out of await run(hooks, [6, 8])) assert.deepEqual([...out], [...mean], "step 1: plain");
  for (const out of await run(hooks, [6, 8])) assert.notDeepEqual([...out], [...mean], "step 2: compressed");
  // 4 x 12 at rank 2 would be 2·16 = 32 floats for 48 (compressed); 3 x 16 is 2·19 = 38 for 48
  // too, but 2 x 24 is 2·26 = 52 > 48: sent whole, exactly.
  for (const out of await run(small, [2, 24])) assert.deepEqual([...out], [...mean], "2 x 24 at rank 2");
  await Promise.all(pgs.map((pg) => pg.destroy()));
});

test("replicas stay bitwise identical under PowerSGD, which changes the training", async () => {
  const psgd = await trainReplicas(6, () => ({ gradCompression: "powersgd:4" }));
  const plain = await trainReplicas(6, () => ({}));
  for (const [step, d] of psgd.digests.entries()) assert.equal(d[0], d[1], `step ${step + 1}`);
  assert.notDeepEqual(psgd.digests, plain.digests);
});

test("on the GPT recipe's model PowerSGD rank 4 sends the bytes of its formula: plain + R·Σ(rows + cols) floats a step", async () => {
  const [layers, dim, heads, context] = (["layers", "dim", "heads", "context"] as const).map((k) => (gptText.options[k] as { default: number }).default);
  const config = { vocab: TEXT_VOCAB_SIZE, context: context!, layers: layers!, dim: dim!, heads: heads! };
  const R = 4;
  let ddpFloats = 1; // the loss's all-reduce, beside the gradients
  let psgdFloats = 1;
  for (const p of new TinyGpt(config).parameters()) {
    const rows = p.shape.length >= 2 ? p.shape[0]! : 1;
    const cols = p.size / rows;
    ddpFloats += p.size;
    psgdFloats += R * (rows + cols) < p.size ? R * (rows + cols) : p.size;
  }
  const bytesPerStep = async (gradCompression: "none" | "powersgd:4" | "powersgd:4:bf16"): Promise<number> => {
    const pgs = createInProcessGroups(2);
    const models = pgs.map(() => (manualSeed(1), new TinyGpt(config)));
    const strategies = pgs.map((pg) => new DdpStrategy(pg, { gradCompression }));
    await Promise.all(strategies.map((s, r) => s.setup(models[r]!, new AdamW(models[r]!.parameters(), { lr: 1e-3 }))));
    const tokens = Int32Array.from({ length: 2 * 17 }, (_, i) => (i * 7) % TEXT_VOCAB_SIZE);
    const batch = { tokens: tokens.subarray(0, 32), targets: tokens.subarray(2, 34), batch: 2, time: 16 };
    const step = (n: number) => Promise.all(strategies.map((s, r) => s.step({ step: n, forward: () => models[r]!.loss(batch) })));
    await step(1); // PowerSGD lays out its buffers
    const before = pgs[0]!.traffic().sent;
    await step(2);
    const sent = pgs[0]!.traffic().sent - before;
    await Promise.all(pgs.map((pg) => pg.destroy()));
    return sent;
  };
  const ddp = await bytesPerStep("none");
  const psgd = await bytesPerStep("powersgd:4");
  // Two ranks: every all-reduce of N floats sends 4N bytes of payload from each (ring or recursive
  // doubling alike); 32-byte frame headers and the collectives' descriptors add well under 1%.
  for (const [sent, floats, what] of [[ddp, ddpFloats, "DDP"], [psgd, psgdFloats, "PowerSGD"]] as const) {
    assert.ok(sent >= 4 * floats && sent <= 4 * floats * 1.01, `${what}: ${sent} bytes a step for ${floats} floats`);
  }
  const ratio = ddp / psgd;
  assert.ok(Math.abs(ratio / (ddpFloats / psgdFloats) - 1) < 0.01, `measured ${ratio.toFixed(2)}x, formula ${(ddpFloats / psgdFloats).toFixed(2)}x`);
  console.log(`# GPT recipe (${JSON.stringify(config)}): DDP ${ddp} bytes a step, PowerSGD rank 4 ${psgd}: ${ratio.toFixed(2)}x fewer (formula ${(ddpFloats / psgdFloats).toFixed(2)}x)`);
  // With bf16 factors and vectors (recursive doubling packs them too): 2 bytes a float, the loss's one float still 4.
  const packed = await bytesPerStep("powersgd:4:bf16");
  const packedPayload = 2 * (psgdFloats - 1) + 4;
  assert.ok(packed >= packedPayload && packed <= packedPayload * 1.02, `PowerSGD bf16: ${packed} bytes a step for ${packedPayload} of payload`);
  assert.ok(ddp / packed >= 20, `PowerSGD rank 4 in bf16 sends ${(ddp / packed).toFixed(1)}x fewer bytes than DDP`);
  console.log(`# PowerSGD rank 4, bf16 on the wire: ${packed} bytes a step, ${(ddp / packed).toFixed(2)}x fewer than DDP`);
});
