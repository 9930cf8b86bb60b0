// scaledDotProductAttention, the autograd op, on each backend: equal to the same attention
// composed of matmul, the additive causal mask, softmax and matmul (forward and the gradients
// that reach a qkv projection through its views), right by finite differences, stored so that
// merging the heads is a view, and checked at its door.
//
// Tolerance against the composition: both sides are float32 and each output is at most
// T + 2 hs roundings deep (see test/backend/attention-parity.test.ts, which holds the kernels to
// a float64 composition per element); here the terms are O(1) normals, so each path is within
// (T + 2 hs) u of the largest value of a tensor, and the two paths within twice that, doubled
// again for exp: 4 (T + 2 hs) 2^-24 times the tensor's largest value.
import assert from "node:assert/strict";
import { testEachBackend as test } from "./each-backend.js";
import { causalMask } from "../../src/nn/attention.js";
import { Rng } from "../../src/util/rng.js";
import * as T from "../../src/tensor/index.js";
import { gradcheck, param } from "./gradcheck.js";


/** The attention that scaledDotProductAttention replaces, op by op. */
function composedAttention(q: T.Tensor, k: T.Tensor, v: T.Tensor, causal: boolean): T.Tensor {
  const scores = T.matmul(q, T.transpose(k), 1 / Math.sqrt(q.shape[3]!));
  return T.matmul(T.softmax(causal ? T.add(scores, causalMask(q.shape[2]!)) : scores), v);
}

function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]!));
  return m;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, depth: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const tol = 4 * depth * 2 ** -24 * maxAbs(expected);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `${what}: element ${i} is ${actual[i]}, composed ${expected[i]} (tolerance ${tol.toExponential(2)})`);
  }
}

/** Output and qkv gradient of attention over the heads of a (B, T, 3D) projection, as in a transformer. */
function throughProjection(
  attend: (q: T.Tensor, k: T.Tensor, v: T.Tensor) => T.Tensor, qkv: T.Tensor, heads: number, gy: T.Tensor,
): { y: number[]; grad: number[] } {
  const [b, t, d3] = qkv.shape as [number, number, number];
  const d = d3 / 3, hs = d / heads;
  qkv.grad = null;
  const [q, k, v] = T.split(qkv, [d, d, d], 2).map((z) => T.permute(T.reshape(z, [b, t, heads, hs]), [0, 2, 1, 3])) as [T.Tensor, T.Tensor, T.Tensor];
  const y = T.reshape(T.transpose(attend(q, k, v), 1, 2), [b, t, d]);
  y.backward(gy);
  return { y: y.toArray(), grad: qkv.grad!.toArray() };
}

test("scaledDotProductAttention equals matmul, mask, softmax, matmul: output and gradients through qkv views", () => {
  const rng = new Rng(3);
  for (const [b, t, heads, hs] of [[2, 33, 3, 5], [1, 65, 2, 16], [3, 7, 1, 24], [1, 1, 2, 3]] as const) {
    for (const causal of [true, false]) {
      const qkv = T.randn([b, t, 3 * heads * hs], rng, 1, { requiresGrad: true });
      const gy = T.randn([b, t, heads * hs], rng);
      const fused = throughProjection((q, k, v) => T.scaledDotProductAttention(q, k, v, { causal }), qkv, heads, gy);
      const composed = throughProjection((q, k, v) => composedAttention(q, k, v, causal), qkv, heads, gy);
      const what = `(B ${b}, T ${t}, H ${heads}, hs ${hs}${causal ? ", causal" : ""})`;
      assertClose(fused.y, composed.y, t + 2 * hs, `${what} y`);
      assertClose(fused.grad, composed.grad, t + 2 * hs, `${what} qkv gradient`);
    }
  }
});

test("scaledDotProductAttention's gradients match finite differences, for strided and shared inputs", () => {
  const rng = new Rng(4);
  for (const causal of [true, false]) {
    const attend = (q: T.Tensor, k: T.Tensor, v: T.Tensor) => T.scaledDotProductAttention(q, k, v, { causal });
    gradcheck(`attention causal=${causal}`, attend, [param([2, 2, 5, 3], rng), param([2, 2, 5, 3], rng), param([2, 2, 5, 3], rng)]);
    // Keys longer than queries; the value is a transposed view (rows not contiguous: copied first).
    gradcheck(`attention tq < tk causal=${causal}`, (q, k, v) => attend(q, k, T.transpose(v, 2, 3)),
      [param([1, 2, 3, 4], rng), param([1, 2, 6, 4], rng), param([1, 2, 4, 6], rng)]);
  }
  // One tensor as query, key and value: its three gradients add up.
  gradcheck("self attention of one tensor", (x) => T.scaledDotProductAttention(x, x, x, { causal: true, scale: 0.7 }), [param([1, 3, 4, 2], rng)]);
});

test("scaledDotProductAttention stores (B, T, H, hs), so merging the heads copies nothing", () => {
  const x = T.randn([2, 3, 5, 4], new Rng(5)); // (B, H, T, hs)
  const y = T.scaledDotProductAttention(x, x, x, { causal: true });
  assert.deepEqual(y.shape, [2, 3, 5, 4]);
  const merged = T.reshape(T.transpose(y, 1, 2), [2, 5, 12]);
  assert.equal(merged.data, y.data, "the merged view shares the output's storage");
  assert.ok(merged.isContiguous());
});

test("scaledDotProductAttention names what is wrong with its inputs", () => {
  const x = T.zeros([1, 2, 3, 4]);
  assert.throws(() => T.scaledDotProductAttention(T.zeros([2, 3, 4]), x, x), /q \[2, 3, 4\] should be \(batch, heads, time, headSize\)/);
  assert.throws(() => T.scaledDotProductAttention(x, T.zeros([1, 2, 3, 5]), x), /k \[1, 2, 3, 5\] does not fit q \[1, 2, 3, 4\]; expected \[1, 2, 3, 4\]/);
  assert.throws(() => T.scaledDotProductAttention(x, x, T.zeros([1, 2, 4, 4])), /v \[1, 2, 4, 4\] does not fit q/);
  assert.throws(() => T.scaledDotProductAttention(x, x, x, { scale: -1 }), /scale must be a positive finite number, got -1/);
});
