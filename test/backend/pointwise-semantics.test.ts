// The reference pointwise kernels do what src/backend/backend.ts promises, on cases worked out by
// hand from the formulas (PyTorch's optimizers, batch-norm running statistics, cross-entropy).
import { test } from "node:test";
import assert from "node:assert/strict";
import { pointwiseKernels as ref } from "../../src/backend/reference/pointwise.js";
import { erf, erfc } from "../../src/backend/reference/erf.js";

const close = (actual: number, expected: number, tol: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: got ${actual}, expected ${expected}`);

test("erf and erfc match tabulated values to 1e-14 relative, tails included", () => {
  const table: [number, number][] = [[0.01, 0.011283415555849618], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [3, 0.9999779095030014]];
  for (const [z, v] of table) {
    close(erf(z), v, 1e-14, `erf(${z})`);
    close(erf(-z), -v, 1e-14, `erf(${-z})`);
  }
  const tails: [number, number][] = [[1, 0.15729920705028513], [2.5, 0.000406952017444959], [5, 1.5374597944280349e-12], [10, 2.088487583762545e-45]];
  for (const [z, v] of tails) assert.ok(Math.abs(erfc(z) / v - 1) < 1e-13, `erfc(${z}) = ${erfc(z)}, expected ${v}`);
});

test("gelu is the exact erf form and relu keeps NaN visible", () => {
  const x = Float32Array.from([-3, -1, 0, 1, 2, NaN]);
  const y = new Float32Array(6);
  ref.unary("gelu", x, 0, y, 6);
  // x * Φ(x), Φ(-3) = 0.0013498980316301, Φ(-1) = 0.15865525393145707, Φ(1) = 0.8413447460685429, Φ(2) = 0.9772498680518208
  const expected = [-3 * 0.0013498980316301, -0.15865525393145707, 0, 0.8413447460685429, 2 * 0.9772498680518208];
  for (let i = 0; i < 5; i++) close(y[i], expected[i], 1e-7, `gelu(${x[i]})`);
  ref.unary("relu", x, 0, y, 6);
  assert.deepEqual(Array.from(y.subarray(0, 5)), [0, 0, 0, 1, 2]);
  assert.ok(Number.isNaN(y[5]));
});

test("sgdStep follows torch.optim.SGD over three steps (momentum, dampening, weight decay, nesterov)", () => {
  for (const nesterov of [false, true]) {
    const [lr, mom, damp, wd] = [0.1, 0.9, nesterov ? 0 : 0.25, 0.01];
    const param = Float32Array.from([1, -2]);
    const buf = new Float32Array(2);
    const grads = [[0.5, 1], [-0.25, 0.5], [1, -1]];
    // The same recurrence written out in float64, per element.
    const p = [1, -2];
    const b = [0, 0];
    grads.forEach((g, step) => {
      ref.sgdStep(param, Float32Array.from(g), buf, 2, lr, mom, damp, wd, nesterov, step === 0);
      for (let i = 0; i < 2; i++) {
        const d = g[i] + wd * p[i];
        b[i] = step === 0 ? d : mom * b[i] + (1 - damp) * d;
        p[i] -= lr * (nesterov ? d + mom * b[i] : b[i]);
      }
    });
    for (let i = 0; i < 2; i++) close(param[i], p[i], 1e-6, `param[${i}] (nesterov ${nesterov})`);
  }
  // First step, plain SGD: p = 1 - 0.1 * 0.5.
  const param = Float32Array.from([1]);
  ref.sgdStep(param, Float32Array.from([0.5]), null, 1, 0.1, 0, 0, 0, false, true);
  close(param[0], 0.95, 1e-7, "plain SGD");
});

test("adamStep matches hand-computed Adam and AdamW steps", () => {
  // One step from m = v = 0: m = 0.1 g, v = 0.001 g², m̂ = g, v̂ = g², so p -= lr * g / (|g| + eps).
  const param = Float32Array.from([1, -1]);
  const m = new Float32Array(2);
  const v = new Float32Array(2);
  ref.adamStep(param, Float32Array.from([0.5, -2]), m, v, 2, 0.01, 0.9, 0.999, 1e-8, 0, false, 1);
  close(param[0], 1 - 0.01 * 0.5 / (0.5 + 1e-8), 1e-7, "adam p0");
  close(param[1], -1 + 0.01 * 2 / (2 + 1e-8), 1e-7, "adam p1");
  close(m[0], 0.05, 1e-7, "m0");
  close(v[1], 0.004, 1e-7, "v1");

  // Second step with L2 weight decay (Adam) and decoupled (AdamW), from the formulas.
  for (const decoupled of [false, true]) {
    const [lr, b1, b2, eps, wd] = [0.001, 0.9, 0.999, 1e-8, 0.1];
    const p0 = 2;
    const g1 = 0.3;
    const g2 = -0.7;
    const pa = Float32Array.from([p0]);
    const ma = new Float32Array(1);
    const va = new Float32Array(1);
    let p = p0, mm = 0, vv = 0;
    [g1, g2].forEach((g, k) => {
      const t = k + 1;
      ref.adamStep(pa, Float32Array.from([g]), ma, va, 1, lr, b1, b2, eps, wd, decoupled, t);
      const ge = decoupled ? g : g + wd * p;
      if (decoupled) p *= 1 - lr * wd;
      mm = b1 * mm + (1 - b1) * ge;
      vv = b2 * vv + (1 - b2) * ge * ge;
      p -= (lr / (1 - b1 ** t)) * mm / (Math.sqrt(vv / (1 - b2 ** t)) + eps);
    });
    close(pa[0], p, 1e-6, `param after two steps (decoupled ${decoupled})`);
  }
});

test("batchNorm updates running statistics with the unbiased variance and momentum, and eval uses them", () => {
  // One channel, values 1, 2, 3, 6: mean 3, biased variance 3.5, unbiased 14/3.
  const x = Float32Array.from([1, 2, 3, 6]);
  const out = new Float32Array(4);
  const mean = new Float32Array(1);
  const invstd = new Float32Array(1);
  const rm = Float32Array.from([0]);
  const rv = Float32Array.from([1]);
  const one = Float32Array.from([1]);
  const zero = Float32Array.from([0]);
  ref.batchNorm(x, one, zero, out, mean, invstd, rm, rv, 2, 1, 2, 0, 0.1, true);
  close(mean[0], 3, 1e-7, "mean");
  close(invstd[0], 1 / Math.sqrt(3.5), 1e-7, "invstd");
  close(rm[0], 0.3, 1e-7, "running mean");
  close(rv[0], 0.9 + 0.1 * (14 / 3), 1e-7, "running var");
  close(out[3], 3 / Math.sqrt(3.5), 1e-6, "normalised");
  ref.batchNorm(x, one, zero, out, mean, invstd, rm, rv, 2, 1, 2, 0, 0.1, false);
  close(out[0], (1 - 0.3) / Math.sqrt(0.9 + 0.1 * (14 / 3)), 1e-6, "eval output");
  close(rm[0], 0.3, 1e-7, "eval leaves running mean");
});

test("crossEntropy sums -log p(target) over the rows not ignored and throws on a bad class", () => {
  const logits = Float32Array.from([0, 0, 0, 1, 2, 3, 5, 5, 5]);
  const probs = new Float32Array(9);
  const loss = ref.crossEntropy(logits, Int32Array.from([1, 2, -1]), probs, 3, 3);
  const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
  close(loss, Math.log(3) + (lse - 3), 1e-7, "loss");
  close(probs[7], 1 / 3, 1e-7, "probabilities of an ignored row are still written");
  assert.throws(() => ref.crossEntropy(logits, Int32Array.from([0, 3, 0]), probs, 3, 3), RangeError);
});

test("indexSelect throws a RangeError naming the bad index and the table size", () => {
  const table = new Float32Array(10);
  assert.throws(() => ref.indexSelect(table, 5, Int32Array.from([0, 7]), new Float32Array(4), 2), (err: Error) =>
    err instanceof RangeError && /index 7/.test(err.message) && /5 rows/.test(err.message));
  assert.throws(() => ref.indexAdd(new Float32Array(2), Int32Array.from([-1]), table, 2), RangeError);
});

test("dropoutMask keeps about 1 - p of the elements, scaled by 1 / (1 - p), reproducibly", () => {
  const n = 10000;
  const a = new Float32Array(n);
  const b = new Float32Array(n);
  ref.dropoutMask(a, n, 0.3, 42);
  ref.dropoutMask(b, n, 0.3, 42);
  assert.deepEqual(a, b);
  const kept = a.filter((v) => v !== 0);
  assert.ok(Math.abs(kept.length / n - 0.7) < 0.02, `kept fraction ${kept.length / n}`);
  assert.ok(kept.every((v) => v === Math.fround(1 / 0.7)));
  ref.dropoutMask(b, n, 0.3, 43);
  assert.notDeepEqual(a, b);
});

test("reductions of an empty axis give the identity, and max propagates NaN", () => {
  const out = new Float32Array(3);
  ref.reduce("sum", new Float32Array(0), out, 1, 0, 3);
  assert.deepEqual(Array.from(out), [0, 0, 0]);
  ref.reduce("max", new Float32Array(0), out, 1, 0, 1);
  assert.equal(out[0], -Infinity);
  ref.reduce("max", Float32Array.from([1, NaN, 2]), out, 1, 3, 1);
  assert.ok(Number.isNaN(out[0]));
});
