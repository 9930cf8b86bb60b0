// linear(), the fused op of a Linear layer, on each backend: equal to matmul, add, the activation
// and add composed op by op (output and every input's gradient), right by finite differences,
// its GELU derivative counted with the activations it holds, and checked at its door.
//
// Tolerance against the composition: forward, both sides do the same float32 operations in the
// same order (the product, + bias, + residual, then the activation; linear's GEMM applies them
// to each block as the composition does to the whole), and the one GELU both share, so they
// agree to the bit. The gradients go through the same GEMMs with their operands swapped (gW is
// computed as gv^T x instead of (x^T gv)^T), whose sums run in another order: within k u of the
// sum of magnitudes, bounded here by 4 k 2^-24 times the gradient's largest value (O(1) normals).
import assert from "node:assert/strict";
import { testEachBackend as test } from "./each-backend.js";
import { Rng } from "../../src/util/rng.js";
import * as T from "../../src/tensor/index.js";
import { gradcheck, param } from "./gradcheck.js";
import type { Activation } from "../../src/backend/backend.js";

const ACT: Record<Activation, (x: T.Tensor) => T.Tensor> = { none: (x) => x, relu: T.relu, gelu: T.gelu };

function composedLinear(x: T.Tensor, w: T.Tensor, b: T.Tensor | null, activation: Activation, r: T.Tensor | null): T.Tensor {
  let v = T.matmul(x, T.transpose(w));
  if (b) v = T.add(v, b);
  if (r) v = T.add(v, r);
  return ACT[activation](v);
}

function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]!));
  return m;
}

/** Output and the gradients of x, w, b, r from the same upstream gradient. */
function run(f: () => T.Tensor, inputs: (T.Tensor | null)[], gy: T.Tensor): { y: number[]; grads: number[][] } {
  for (const t of inputs) if (t) t.grad = null;
  const y = f();
  y.backward(gy);
  return { y: y.toArray(), grads: inputs.map((t) => (t ? t.grad!.toArray() : [])) };
}

test("linear equals matmul, bias, residual and activation composed: output to the bit, gradients within k ulps", () => {
  const rng = new Rng(5);
  // (leading shape, in, out): one row, odd sizes, a 3-D input; 150 rows pass one GEMM row block.
  for (const [lead, inF, outF] of [[[1], 1, 1], [[7], 5, 17], [[2, 3], 33, 9], [[150], 20, 13]] as const) {
    for (const activation of ["none", "relu", "gelu"] as const) {
      for (const [withBias, withResidual] of [[true, true], [true, false], [false, true], [false, false]] as const) {
        const x = T.randn([...lead, inF], rng, 1, { requiresGrad: true });
        const w = T.randn([outF, inF], rng, 1, { requiresGrad: true });
        const b = withBias ? T.randn([outF], rng, 1, { requiresGrad: true }) : null;
        const r = withResidual ? T.randn([...lead, outF], rng, 1, { requiresGrad: true }) : null;
        const gy = T.randn([...lead, outF], rng);
        const inputs = [x, w, b, r];
        const fused = run(() => T.linear(x, w, b, { activation, ...(r ? { residual: r } : {}) }), inputs, gy);
        const composed = run(() => composedLinear(x, w, b, activation, r), inputs, gy);
        const what = `${activation}${withBias ? " +bias" : ""}${withResidual ? " +residual" : ""} ([${lead}], ${inF} -> ${outF})`;
        assert.deepEqual(fused.y, composed.y, `${what}: output`);
        const rows = x.size / inF;
        ["x", "w", "b", "r"].forEach((name, i) => {
          const expected = composed.grads[i]!, actual = fused.grads[i]!;
          const depth = name === "x" ? outF : rows;
          const tol = 4 * depth * 2 ** -24 * maxAbs(expected);
          actual.forEach((a, j) => assert.ok(Math.abs(a - expected[j]!) <= tol, `${what}: grad ${name}[${j}] is ${a}, composed ${expected[j]} (tolerance ${tol.toExponential(2)})`));
        });
      }
    }
  }
});

test("linear's gradients are the finite differences of its output, for each activation", () => {
  const rng = new Rng(6);
  for (const activation of ["none", "relu", "gelu"] as const) {
    const inputs = [param([3, 4], rng), param([5, 4], rng), param([5], rng), param([3, 5], rng)];
    gradcheck(`linear ${activation}`, (x, w, b, r) => T.linear(x!, w!, b!, { activation, residual: r! }), inputs);
  }
});

test("linear with GELU counts its saved derivative with the output, as the composition counted GELU's input", () => {
  const rng = new Rng(7);
  const x = T.randn([6, 4], rng, 1, { requiresGrad: true });
  const w = T.randn([5, 4], rng, 1, { requiresGrad: true });
  const held = (f: () => T.Tensor) => {
    T.forgetActivations();
    const y = f();
    const bytes = T.activationBytes();
    y.backward(T.randn(y.shape, rng));
    return bytes;
  };
  assert.equal(held(() => T.linear(x, w, null, { activation: "gelu" })), 2 * 6 * 5 * 4, "output and derivative");
  assert.equal(held(() => T.linear(x, w, null, { activation: "relu" })), 6 * 5 * 4, "ReLU's derivative is read off the output");
  assert.equal(held(() => T.gelu(T.matmul(x, T.transpose(w)))), 2 * 6 * 5 * 4, "the composition: product and GELU");
  T.forgetActivations();
});

test("linear names the mismatched shape and what it should be", () => {
  const x = T.zeros([2, 3]), w = T.zeros([4, 3]);
  assert.throws(() => T.linear(T.zeros([2, 5]), w, null), /linear: input \[2, 5\] should end in 3, the weight's in-features/);
  assert.throws(() => T.linear(x, T.zeros([4]), null), /linear: weight \[4\] should be \(out, in\)/);
  assert.throws(() => T.linear(x, w, T.zeros([3])), /linear: bias \[3\] should be \[4\]/);
  assert.throws(() => T.linear(x, w, null, { residual: T.zeros([2, 3]) }), /linear: residual \[2, 3\] should be the output's shape \[2, 4\]/);
});
