// Every backward kernel of the reference backend is the true gradient of its forward: checked
// against central finite differences. Buffers are float32, so each check uses a step (1e-3 of the
// input's scale) large enough that float32 rounding of the outputs (~1e-7 relative) stays below the
// tolerance, and small enough that the O(h²) truncation error does too.
import { test } from "node:test";
import assert from "node:assert/strict";
import { UNARY_OPS, type UnaryOp } from "../../src/backend/backend.js";
import { pointwiseKernels as ref } from "../../src/backend/reference/pointwise.js";
import { randomArray, seededRandom } from "./pointwise-fixtures.js";

const H = 1e-3;

/** Inputs where each op is smooth and defined: away from 0 for the kinks and poles, positive for the roots. */
function domain(op: UnaryOp, rand: () => number, n: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rand();
    if (op === "log" || op === "sqrt" || op === "rsqrt" || op === "reciprocal") x[i] = 0.3 + 2 * u;
    else if (op === "relu" || op === "abs") x[i] = (u < 0.5 ? -1 : 1) * (0.05 + 2 * u);
    else x[i] = 6 * u - 3;
  }
  return x;
}

for (const op of UNARY_OPS) {
  test(`reference unaryBackward(${op}) matches finite differences of unary(${op})`, () => {
    const rand = seededRandom(11);
    const n = 64;
    const x = domain(op, rand, n);
    const y = new Float32Array(n);
    ref.unary(op, x, 0, y, n);
    const gy = randomArray(n, rand);
    const gx = new Float32Array(n);
    ref.unaryBackward(op, x, y, gy, gx, n);
    const xp = x.map((v) => v + H);
    const xm = x.map((v) => v - H);
    const yp = new Float32Array(n);
    const ym = new Float32Array(n);
    ref.unary(op, xp, 0, yp, n);
    ref.unary(op, xm, 0, ym, n);
    for (let i = 0; i < n; i++) {
      const numeric = (gy[i] * (yp[i] - ym[i])) / (xp[i] - xm[i]);
      const scale = Math.max(1, Math.abs(numeric), Math.abs(y[i]) / H * 1e-7);
      assert.ok(Math.abs(gx[i] - numeric) <= 2e-3 * scale, `${op} at x=${x[i]}: analytic ${gx[i]}, numeric ${numeric}`);
    }
  });
}

/**
 * Checks that `grad` is the gradient of `loss` at `x` along a random direction d:
 * (loss(x + h d) - loss(x - h d)) / 2h ≈ <grad, d>.
 */
function checkDirectional(name: string, x: Float32Array, grad: Float32Array, loss: (x: Float32Array) => number, seed: number): void {
  const rand = seededRandom(seed);
  const d = randomArray(x.length, rand);
  const xp = x.map((v, i) => v + H * d[i]);
  const xm = x.map((v, i) => v - H * d[i]);
  let analytic = 0;
  let magnitude = 0;
  for (let i = 0; i < x.length; i++) {
    // The step actually taken after float32 rounding, per element.
    const step = (xp[i] - xm[i]) / 2;
    analytic += grad[i] * step;
    magnitude += Math.abs(grad[i] * step);
  }
  const numeric = (loss(xp) - loss(xm)) / 2;
  // Correct gradients land within ~1e-5 of `magnitude`; a 1% error in one term of a formula
  // (e.g. batchNorm's xhat * sum(gy * xhat)) moves the result by ~2e-4.
  assert.ok(
    Math.abs(numeric - analytic) <= 1e-4 * magnitude + 1e-9,
    `${name}: directional derivative analytic ${analytic / H}, numeric ${numeric / H}`,
  );
}

/** sum(w * y) in float64, the scalar whose gradient with respect to y is w. */
function dot(w: Float32Array, y: Float32Array): number {
  let s = 0;
  for (let i = 0; i < w.length; i++) s += w[i] * y[i];
  return s;
}

test("reference softmaxBackward and logSoftmaxBackward are the gradients of softmax and logSoftmax", () => {
  const rand = seededRandom(3);
  const rows = 5;
  const cols = 17;
  const x = randomArray(rows * cols, rand, 3);
  const w = randomArray(rows * cols, rand);
  for (const kind of ["softmax", "logSoftmax"] as const) {
    const y = new Float32Array(rows * cols);
    ref[kind](x, y, rows, cols);
    const gx = new Float32Array(rows * cols);
    if (kind === "softmax") ref.softmaxBackward(y, w, gx, rows, cols);
    else ref.logSoftmaxBackward(y, w, gx, rows, cols);
    checkDirectional(kind, x, gx, (xs) => {
      const ys = new Float32Array(rows * cols);
      ref[kind](xs, ys, rows, cols);
      return dot(w, ys);
    }, 4);
  }
});

test("reference crossEntropyBackward is the gradient of scale * crossEntropy, ignored rows included", () => {
  const rand = seededRandom(5);
  const rows = 6;
  const cols = 33;
  const x = randomArray(rows * cols, rand, 4);
  const targets = Int32Array.from([3, -1, 0, 32, 7, -100]);
  const probs = new Float32Array(rows * cols);
  const scale = 1 / 4;
  ref.crossEntropy(x, targets, probs, rows, cols);
  const gx = new Float32Array(rows * cols);
  ref.crossEntropyBackward(probs, targets, gx, rows, cols, scale);
  for (const r of [1, 5]) assert.ok(gx.subarray(r * cols, (r + 1) * cols).every((v) => v === 0), `ignored row ${r} has gradient`);
  checkDirectional("crossEntropy", x, gx, (xs) => scale * ref.crossEntropy(xs, targets, new Float32Array(rows * cols), rows, cols), 6);
});

test("reference layerNormBackward gives the gradients of layerNorm for x, gamma and beta", () => {
  const rand = seededRandom(7);
  const rows = 4;
  const cols = 33;
  const x = randomArray(rows * cols, rand, 2);
  const gamma = randomArray(cols, rand);
  const beta = randomArray(cols, rand);
  const w = randomArray(rows * cols, rand);
  const eps = 1e-5;
  const run = (xs: Float32Array, g: Float32Array | null, b: Float32Array | null): number => {
    const out = new Float32Array(rows * cols);
    ref.layerNorm(xs, g, b, out, new Float32Array(rows), new Float32Array(rows), rows, cols, eps);
    return dot(w, out);
  };
  for (const affine of [true, false]) {
    const g = affine ? gamma : null;
    const b = affine ? beta : null;
    const mean = new Float32Array(rows);
    const rstd = new Float32Array(rows);
    ref.layerNorm(x, g, b, new Float32Array(rows * cols), mean, rstd, rows, cols, eps);
    const gx = new Float32Array(rows * cols);
    const ggamma = affine ? new Float32Array(cols).fill(NaN) : null;
    const gbeta = affine ? new Float32Array(cols).fill(NaN) : null;
    ref.layerNormBackward(x, g, mean, rstd, w, gx, ggamma, gbeta, rows, cols);
    checkDirectional(`layerNorm x (affine ${affine})`, x, gx, (xs) => run(xs, g, b), 8);
    if (ggamma && gbeta) {
      checkDirectional("layerNorm gamma", gamma, ggamma, (gs) => run(x, gs, beta), 9);
      checkDirectional("layerNorm beta", beta, gbeta, (bs) => run(x, gamma, bs), 10);
    }
  }
});

test("reference batchNormBackward gives the training-mode gradients of batchNorm for x, gamma and beta", () => {
  const rand = seededRandom(12);
  const [n, c, hw] = [3, 4, 5];
  const size = n * c * hw;
  const x = randomArray(size, rand, 2);
  const gamma = randomArray(c, rand);
  const beta = randomArray(c, rand);
  const w = randomArray(size, rand);
  const eps = 1e-5;
  const run = (xs: Float32Array, g: Float32Array, b: Float32Array, mean = new Float32Array(c), invstd = new Float32Array(c)): number => {
    const out = new Float32Array(size);
    ref.batchNorm(xs, g, b, out, mean, invstd, new Float32Array(c), new Float32Array(c).fill(1), n, c, hw, eps, 0.1, true);
    return dot(w, out);
  };
  const mean = new Float32Array(c);
  const invstd = new Float32Array(c);
  run(x, gamma, beta, mean, invstd);
  const gx = new Float32Array(size);
  const ggamma = new Float32Array(c);
  const gbeta = new Float32Array(c);
  ref.batchNormBackward(x, gamma, mean, invstd, w, gx, ggamma, gbeta, n, c, hw);
  checkDirectional("batchNorm x", x, gx, (xs) => run(xs, gamma, beta), 13);
  checkDirectional("batchNorm gamma", gamma, ggamma, (gs) => run(x, gs, beta), 14);
  checkDirectional("batchNorm beta", beta, gbeta, (bs) => run(x, gamma, bs), 15);
});
