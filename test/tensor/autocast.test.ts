// autocast (Note [bf16 products] in src/tensor/autocast.ts), on each backend: the scope's
// precision and its restoring, matmul and linear forward and backward through the bf16 GEMM, and
// a tiny model trained under it end to end. On a CPU without bf16 instructions the native backend
// takes the emulated path, which computes the same products, so these run on every machine.
//
// Tolerances: a bf16 product of O(1) values over depth k is within (2^-7 + 2^-16 + k 2^-24) of
// the sum of magnitudes of the float32 one (test/backend/bf16-gemm.test.ts argues it); with
// uniform inputs in [-1, 1) and k <= 24 that sum stays below k, so 2^-7 k bounds every element
// with room. Equality with the bf16 GEMM called directly is bitwise: the same kernel on the same
// operands.
import assert from "node:assert/strict";
import { test as plainTest } from "node:test";
import { testEachBackend as test } from "./each-backend.js";
import { backend } from "../../src/backend/index.js";
import type { GemmParams } from "../../src/backend/backend.js";
import { Rng } from "../../src/util/rng.js";
import * as T from "../../src/tensor/index.js";
import { Linear, manualSeed } from "../../src/nn/index.js";
import { Adam } from "../../src/optim/index.js";

function uniform(shape: number[], rng: Rng, requiresGrad = false): T.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return T.tensor(Array.from({ length: n }, () => 2 * rng.next() - 1), shape, { requiresGrad });
}

/** C = A B^T (or A B) through the backend's GEMM directly, contiguous operands. */
function gemm(a: Float32Array, b: Float32Array, m: number, n: number, k: number, transB: boolean, bf16: boolean): Float32Array {
  const c = new Float32Array(m * n);
  const p: GemmParams = {
    transA: false, transB, m, n, k, alpha: 1, beta: 0, lda: k, ldb: transB ? k : n, ldc: n,
    batch: 1, offsetA: 0, offsetB: 0, offsetC: 0, strideA: 0, strideB: 0, strideC: 0, bf16,
  };
  backend().gemm(p, a, b, c);
  return c;
}

const maxDiff = (x: ArrayLike<number>, y: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
};
const sameBits = (x: Float32Array, y: Float32Array): boolean => x.every((v, i) => Object.is(v, y[i]));

plainTest("autocast sets the precision for its scope and restores it after a return, a throw and a settled promise", async () => {
  assert.equal(T.currentPrecision(), "f32");
  assert.equal(T.autocast("bf16", () => T.currentPrecision()), "bf16");
  assert.equal(T.autocast("bf16", () => T.autocast("f32", () => T.currentPrecision())), "f32");
  assert.throws(() => T.autocast("bf16", () => { throw new Error("inside"); }), /inside/);
  assert.equal(T.currentPrecision(), "f32");
  const pending = T.autocast("bf16", async () => {
    await new Promise((r) => setTimeout(r, 1));
    return T.currentPrecision();
  });
  assert.equal(T.currentPrecision(), "bf16", "an async scope lasts until its promise settles");
  assert.equal(await pending, "bf16");
  assert.equal(T.currentPrecision(), "f32");
});

plainTest("autocast refuses a precision it does not know, saying what to pass", () => {
  assert.throws(() => T.autocast("fp8" as T.Precision, () => 0), /autocast: precision "fp8" is not one of f32, bf16; pass "bf16" or "f32"/);
});

test("matmul under autocast is the bf16 GEMM of its operands, forward and backward, also when backward runs outside the scope", () => {
  const rng = new Rng(1);
  const a = uniform([5, 24], rng, true), b = uniform([24, 7], rng, true);
  const y = T.autocast("bf16", () => T.matmul(a, b));
  assert.ok(sameBits(y.data, gemm(a.data, b.data, 5, 7, 24, false, true)));
  const f32 = T.matmul(a.detach(), b.detach());
  assert.ok(!sameBits(y.data, f32.data), "the product under autocast equals the float32 one: nothing was rounded");
  assert.ok(maxDiff(y.data, f32.data) <= 2 ** -7 * 24);
  const g = uniform([5, 7], rng);
  T.sum(T.mul(y, g)).backward();
  // ga = g b^T and gb = a^T g, both in bf16.
  assert.ok(sameBits(a.grad!.data, gemm(g.data, b.data, 5, 24, 7, true, true)));
  const aT = T.transpose(a.detach()).contiguous();
  assert.ok(sameBits(b.grad!.data, gemm(aT.data, g.data, 24, 7, 5, false, true)));
});

test("linear under autocast: its GEMMs in bf16, its bias and activation in float32, its gradients float32 tensors", () => {
  const rng = new Rng(2);
  const x = uniform([6, 16], rng, true), w = uniform([9, 16], rng, true), b = uniform([9], rng, true);
  const y = T.autocast("bf16", () => T.linear(x, w, b, { activation: "relu" }));
  const product = gemm(x.data, w.data, 6, 9, 16, true, true);
  const want = product.map((v, i) => Math.max(0, Math.fround(v + b.data[i % 9]!)));
  assert.ok(sameBits(y.data, want));
  T.sum(y).backward();
  const plain = T.linear(x.detach(), w.detach(), b.detach(), { activation: "relu" });
  assert.ok(maxDiff(y.data, plain.data) <= 2 ** -7 * 16);
  for (const t of [x, w, b]) assert.equal(t.grad!.dtype, "float32");
});

/** Trains a 16-32-4 MLP on a fixed random task for 30 Adam steps; returns the last loss and the weights. */
function trainTiny(precision: T.Precision): { loss: number; weights: Float32Array } {
  manualSeed(5);
  const l1 = new Linear(16, 32), l2 = new Linear(32, 4);
  const params = [...l1.parameters(), ...l2.parameters()];
  const opt = new Adam(params, { lr: 1e-2 });
  const rng = new Rng(6);
  const x = uniform([64, 16], rng);
  const y = Int32Array.from({ length: 64 }, (_, i) => (x.data[i * 16]! > 0 ? 1 : 0) + (x.data[i * 16 + 1]! > 0 ? 2 : 0));
  let loss = NaN;
  for (let step = 0; step < 30; step++) {
    opt.zeroGrad();
    const l = T.autocast(precision, () => T.crossEntropy(l2.forward(l1.forward(x, { activation: "gelu" })), y));
    l.backward();
    opt.step();
    loss = l.item();
  }
  return { loss, weights: Float32Array.from(params.flatMap((p) => [...p.data])) };
}

test("a tiny model trained under autocast bf16 ends within 2% of float32's loss, with different weights", () => {
  const f32 = trainTiny("f32"), bf16 = trainTiny("bf16");
  assert.ok(f32.loss < 1, `float32 training did not learn: loss ${f32.loss}`);
  assert.ok(Math.abs(bf16.loss - f32.loss) <= 0.02 * f32.loss, `bf16 loss ${bf16.loss} against float32's ${f32.loss}`);
  assert.ok(!sameBits(bf16.weights, f32.weights), "bf16 training gave float32's weights bit for bit: the products were not rounded");
});
