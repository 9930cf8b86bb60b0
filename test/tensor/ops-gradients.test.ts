// Every differentiable tensor op against finite differences, on the reference backend (exact
// kernels, so a failure is the op's backward, not rounding) and again on the native backend.
import { testEachBackend as test } from "./each-backend.js";
import { Rng } from "../../src/util/rng.js";
import * as T from "../../src/tensor/index.js";
import { gradcheck, param, paramAwayFromZero, paramDistinct } from "./gradcheck.js";

const rng = new Rng(1);

test("element-wise binary ops with broadcasting", () => {
  // max/min: both operands on a 0.1 grid, b offset by 0.05, so no pair is within eps of a tie.
  const offGrid = () => {
    const b = paramDistinct([4], rng);
    for (let i = 0; i < b.size; i++) b.data[i] = b.data[i]! + 0.05;
    return b;
  };
  for (const op of [T.maximum, T.minimum] as const) gradcheck(op.name, op, [paramDistinct([3, 4], rng), offGrid()]);
  for (const op of [T.add, T.sub, T.mul] as const) {
    gradcheck(op.name, op, [param([3, 4], rng), param([4], rng)]);
    gradcheck(op.name, op, [param([2, 1, 3], rng), param([4, 1], rng)]);
  }
  gradcheck("div", T.div, [param([3, 4], rng), T.affine(T.abs(param([3, 1], rng)), 1, 0.5).detach()]);
  const b = T.affine(T.abs(param([3, 1], rng)), 1, 0.5).detach();
  b.requiresGrad = true;
  gradcheck("div by tensor", T.div, [param([3, 4], rng), b]);
  const base = T.affine(T.abs(param([2, 3], rng)), 1, 0.5).detach();
  base.requiresGrad = true;
  gradcheck("pow", T.pow, [base, param([3], rng, 0.5)]);
});

test("unary ops", () => {
  const positive = () => {
    const t = T.affine(T.abs(param([5, 3], rng)), 1, 0.3).detach();
    t.requiresGrad = true;
    return t;
  };
  for (const op of [T.neg, T.exp, T.tanh, T.sigmoid, T.gelu, T.square]) gradcheck(op.name, op, [param([5, 3], rng)]);
  for (const op of [T.abs, T.relu]) gradcheck(op.name, op, [paramAwayFromZero([5, 3], rng)]);
  for (const op of [T.log, T.sqrt, T.rsqrt, T.reciprocal]) gradcheck(op.name, op, [positive()]);
  gradcheck("affine", (x) => T.affine(x, -2, 3), [param([4], rng)]);
});

test("shape ops: reshape, permute, slice, expand, concat, split, indexSelect", () => {
  gradcheck("reshape", (x) => T.reshape(x, [6, -1]), [param([2, 3, 4], rng)]);
  gradcheck("permute", (x) => T.permute(x, [2, 0, 1]), [param([2, 3, 4], rng)]);
  gradcheck("permute then mul", (x) => T.mul(T.transpose(x), T.transpose(x)), [param([3, 5], rng)]);
  gradcheck("slice of transpose", (x) => T.slice(T.transpose(x, 0, 1), 1, 1, 3), [param([4, 3, 2], rng)]);
  gradcheck("expand", (x) => T.expand(x, [2, 3, 4]), [param([3, 1], rng)]);
  gradcheck("concat", (a, b) => T.concat([a, b], 1), [param([2, 3], rng), param([2, 2], rng)]);
  gradcheck("split", (x) => T.mul(...(T.split(x, [2, 2], 0) as [T.Tensor, T.Tensor])), [param([4, 3], rng)]);
  gradcheck("indexSelect", (t) => T.indexSelect(t, Int32Array.from([2, 0, 2, 1]), [2, 2]), [param([3, 4], rng)]);
});

test("matmul: plain, transposed, batched, broadcast, vectors", () => {
  const mm = (a: T.Tensor, b: T.Tensor) => T.matmul(a, b);
  gradcheck("matmul", mm, [param([3, 4], rng), param([4, 5], rng)]);
  gradcheck("matmul scaled", (a, b) => T.matmul(a, b, 0.5), [param([3, 4], rng), param([4, 5], rng)]);
  // Heads as views of one projection (B, T, 2 * H * hs): per-batch GEMM calls over the heads.
  gradcheck("matmul on head views", (x) => {
    const [q, k] = T.split(x, [4, 4], 2).map((z) => T.permute(T.reshape(z, [2, 3, 2, 2]), [0, 2, 1, 3])) as [T.Tensor, T.Tensor];
    return T.matmul(q, T.transpose(k));
  }, [param([2, 3, 8], rng)]);
  gradcheck("matmul x @ w.T", (x, w) => T.matmul(x, T.transpose(w)), [param([2, 3, 4], rng), param([5, 4], rng)]);
  gradcheck("matmul batched", mm, [param([2, 3, 4], rng), param([2, 4, 2], rng)]);
  gradcheck("matmul broadcast batch", mm, [param([2, 1, 3, 4], rng), param([3, 4, 2], rng)]);
  gradcheck("matmul q @ k.T", (q, k) => T.matmul(q, T.transpose(k)), [param([2, 3, 4], rng), param([2, 3, 4], rng)]);
  gradcheck("vector @ matrix", mm, [param([4], rng), param([4, 3], rng)]);
  gradcheck("matrix @ vector", mm, [param([3, 4], rng), param([4], rng)]);
});

test("reductions", () => {
  gradcheck("sum all", (x) => T.sum(x), [param([3, 4], rng)]);
  gradcheck("sum axis", (x) => T.sum(x, 1), [param([2, 3, 4], rng)]);
  gradcheck("sum axes 0,2 keepDims", (x) => T.sum(x, [0, 2], true), [param([2, 3, 4], rng)]);
  gradcheck("mean", (x) => T.mean(x, -1), [param([3, 5], rng)]);
  gradcheck("max", (x) => T.max(x, 1), [paramDistinct([3, 5], rng)]);
  gradcheck("min", (x) => T.min(x, 0), [paramDistinct([3, 5], rng)]);
});

test("softmax, logSoftmax and the losses", () => {
  gradcheck("softmax", (x) => T.softmax(x), [param([3, 5], rng)]);
  gradcheck("softmax axis 0", (x) => T.softmax(x, 0), [param([3, 5], rng)]);
  gradcheck("logSoftmax", (x) => T.logSoftmax(x), [param([2, 2, 6], rng)]);
  gradcheck("crossEntropy", (x) => T.crossEntropy(x, Int32Array.from([1, 0, 4, -100])), [param([4, 5], rng)]);
  gradcheck("mseLoss", (a, b) => T.mseLoss(a, b), [param([3, 4], rng), param([3, 4], rng)]);
  const y = T.tensor([0, 1, 1, 0, 0.5, 1], [2, 3]);
  gradcheck("bceWithLogits", (x) => T.bceWithLogits(x, y), [param([2, 3], rng, 2)]);
});

test("convolution and pooling", () => {
  gradcheck("conv2d", (x, w, b) => T.conv2d(x, w, b, { stride: 2, padding: 1 }), [param([2, 3, 5, 5], rng), param([4, 3, 3, 3], rng), param([4], rng)]);
  gradcheck("conv1d", (x, w) => T.conv1d(x, w, null, { padding: 1 }), [param([2, 2, 7], rng), param([3, 2, 3], rng)]);
  gradcheck("maxPool2d", (x) => T.maxPool2d(x, { kernel: 2 }), [paramDistinct([2, 2, 4, 6], rng)]);
  gradcheck("avgPool2d", (x) => T.avgPool2d(x, { kernel: 3, stride: 2, padding: 1 }), [param([1, 2, 5, 5], rng)]);
});

test("layer norm and batch norm", () => {
  gradcheck("layerNorm", (x, g, b) => T.layerNorm(x, g, b), [param([3, 6], rng), param([6], rng), param([6], rng)], { tolerance: 3e-2 });
  const state = () => ({ runningMean: new Float32Array(3), runningVar: new Float32Array(3).fill(1), momentum: 0.1, eps: 1e-5, training: true });
  gradcheck("batchNorm", (x, g, b) => T.batchNorm(x, g, b, state()), [param([4, 3, 2, 2], rng), param([3], rng), param([3], rng)], { tolerance: 3e-2 });
});
