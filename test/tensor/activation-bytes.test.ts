// The activation count (src/tensor/activation-bytes.ts, Note [counting activation bytes]): every
// op output that records a backward adds its bytes, views add none, backward takes them off node
// by node, and a forgotten generation subtracts nothing.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  activationBytes, activationPeak, add, exp, forgetActivations, matmul, mul, noGrad, relu, reshape, resetActivationPeak, sum, tensor, transpose,
} from "../../src/tensor/index.js";

const F = 4; // bytes per float32

test("the count equals the hand-counted bytes of a small graph's op outputs, and is 0 after backward", () => {
  forgetActivations();
  const x = tensor([1, 2, 3, 4, 5, 6], [2, 3], { requiresGrad: true });
  const w = tensor([0.5, -1, 2, 0, 1, 1], [3, 2], { requiresGrad: true });
  const c = tensor([1, 1, 1, 1], [2, 2]); // a constant: needs no gradient
  const h = matmul(x, w); // (2, 2): 4 floats
  assert.equal(activationBytes(), 4 * F);
  // Views add nothing: transpose is one; reshaping it copies once (contiguous, 4 floats), and
  // reshaping that contiguous copy again is a view.
  const t = transpose(h);
  assert.equal(activationBytes(), 4 * F);
  const v = reshape(reshape(t, [4]), [2, 2]);
  assert.equal(activationBytes(), 8 * F);
  const y = add(relu(h), c); // relu 4 floats, add 4 floats
  const loss = sum(mul(y, y)); // mul 4 floats, sum 1 float
  void v;
  const expected = (4 + 4 + 4 + 4 + 4 + 1) * F;
  assert.equal(activationBytes(), expected);
  assert.equal(activationPeak(), expected, "the peak is reached at the end of forward");
  loss.backward();
  // v's copy is not below the loss: its bytes stay until the next generation forgets them.
  assert.equal(activationBytes(), 4 * F);
  assert.equal(activationPeak(), expected, "backward only lowers the count");
  forgetActivations();
  assert.equal(activationBytes(), 0);
});

test("ops on tensors that need no gradient, or under noGrad, count nothing", () => {
  forgetActivations();
  const a = tensor([1, 2, 3], [3]);
  sum(exp(a));
  const b = tensor([1, 2, 3], [3], { requiresGrad: true });
  noGrad(() => sum(exp(b)));
  assert.equal(activationBytes(), 0);
  assert.equal(activationPeak(), 0);
});

test("the peak follows the largest forward since it was reset", () => {
  forgetActivations();
  const x = tensor(new Float32Array(100), [100], { requiresGrad: true });
  sum(exp(x)).backward(); // 100 + 1 floats
  assert.equal(activationPeak(), 101 * F);
  assert.equal(activationBytes(), 0);
  resetActivationPeak();
  assert.equal(activationPeak(), 0);
  sum(mul(x, tensor(new Float32Array(100), [100]))).backward();
  sum(exp(tensor(new Float32Array(10), [10], { requiresGrad: true }))).backward(); // 10 + 1 floats
  assert.equal(activationPeak(), 101 * F, "the larger of the two forwards");
});

test("a graph dropped without backward is forgotten, and its late backward takes nothing off", () => {
  forgetActivations();
  const x = tensor([1, 2, 3, 4], [4], { requiresGrad: true });
  const old = sum(exp(x)); // 5 floats, never backward in this generation
  assert.equal(activationBytes(), 5 * F);
  forgetActivations();
  assert.equal(activationBytes(), 0);
  const fresh = sum(mul(x, x)); // 5 floats
  assert.equal(activationBytes(), 5 * F);
  old.backward();
  assert.equal(activationBytes(), 5 * F, "the old graph's backward must not subtract from the new generation");
  fresh.backward();
  assert.equal(activationBytes(), 0);
});

test("a graph whose backward runs twice takes its bytes off once", () => {
  forgetActivations();
  const x = tensor([1, 2], [2], { requiresGrad: true });
  const y = exp(x); // 2 floats
  const a = sum(y); // 1 float
  const b = sum(mul(y, y)); // 2 + 1 floats, sharing y
  assert.equal(activationBytes(), 6 * F);
  a.backward(); // frees a and y
  assert.equal(activationBytes(), 3 * F);
  b.backward(); // y is detached now: frees the mul and the sum
  assert.equal(activationBytes(), 0);
});
