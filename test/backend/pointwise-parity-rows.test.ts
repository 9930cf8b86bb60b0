// Native row-wise kernels (reductions, softmax family, cross-entropy, layer and batch norm)
// agree with the reference backend under every ISA variant this CPU runs, at odd sizes.
//
// Tolerances: the native kernels sum in float32 with several accumulators, the reference in
// float64, so results differ by ~n·6e-8 relative to the magnitudes summed; exp and log are the
// vectorised ones (~2e-6). 1e-5 relative (plus a small absolute floor) covers both with margin.
import { test } from "node:test";
import { REDUCE_OPS } from "../../src/backend/backend.js";
import { pointwiseKernels as ref } from "../../src/backend/reference/pointwise.js";
import { assertClose, randomArray, seededRandom } from "./pointwise-fixtures.js";
import { forEachIsa, nativeKernel } from "./native-variants.js";

const RTOL = 1e-5;
const ATOL = 1e-6;
const ROW_SHAPES: [number, number][] = [[1, 1], [3, 17], [5, 33], [2, 127], [4, 3], [1, 1000]];

test("native reduce matches the reference for rows (inner 1), columns (inner > 1) and empty axes", (t) => {
  const reduce = nativeKernel(t, "reduce");
  if (!reduce) return;
  const rand = seededRandom(21);
  const shapes: [number, number, number][] = [[1, 1, 1], [3, 17, 1], [2, 127, 1], [1, 1000, 1], [4, 33, 3], [2, 17, 33], [3, 5, 127], [2, 0, 5], [0, 4, 4]];
  forEachIsa((isa) => {
    for (const op of REDUCE_OPS) {
      for (const [outer, n, inner] of shapes) {
        const x = randomArray(outer * n * inner, rand, 3);
        const expected = new Float32Array(outer * inner);
        const actual = new Float32Array(outer * inner).fill(NaN);
        ref.reduce(op, x, expected, outer, n, inner);
        reduce(op, x, actual, outer, n, inner);
        // A sum's error scales with sum(|x|) ~ 1.5 n, not with the (cancelling) result.
        assertClose(actual, expected, 0, op === "sum" ? 2e-7 * 1.5 * n + 1e-6 : 0, `${isa} reduce ${op} (${outer}, ${n}, ${inner})`);
      }
    }
    const withNan = Float32Array.from([1, 2, NaN, 4, 5, 6, 7, 8, 9, 10, 11]);
    for (const op of ["max", "min"] as const) {
      const out = new Float32Array(1);
      reduce(op, withNan, out, 1, withNan.length, 1);
      assertClose(out, [NaN], 0, 0, `${isa} reduce ${op} propagates NaN`);
    }
  });
});

test("native softmax, logSoftmax and their backwards match the reference", (t) => {
  const softmax = nativeKernel(t, "softmax");
  const logSoftmax = nativeKernel(t, "logSoftmax");
  const softmaxBackward = nativeKernel(t, "softmaxBackward");
  const logSoftmaxBackward = nativeKernel(t, "logSoftmaxBackward");
  if (!softmax || !logSoftmax || !softmaxBackward || !logSoftmaxBackward) return;
  const native = { softmax, logSoftmax, softmaxBackward, logSoftmaxBackward };
  const rand = seededRandom(22);
  forEachIsa((isa) => {
    for (const [rows, cols] of ROW_SHAPES) {
      const size = rows * cols;
      // Large logits (±50) check the max shift.
      const x = randomArray(size, rand, 50);
      const gy = randomArray(size, rand);
      for (const kind of ["softmax", "logSoftmax"] as const) {
        const [e, a] = [new Float32Array(size), new Float32Array(size).fill(NaN)];
        ref[kind](x, e, rows, cols);
        native[kind](x, a, rows, cols);
        assertClose(a, e, RTOL, kind === "softmax" ? 1e-30 : ATOL, `${isa} ${kind} (${rows}, ${cols})`);
        const back = kind === "softmax" ? "softmaxBackward" : "logSoftmaxBackward";
        const [ge, ga] = [new Float32Array(size), new Float32Array(size).fill(NaN)];
        ref[back](e, gy, ge, rows, cols);
        native[back](e, gy, ga, rows, cols);
        assertClose(ga, ge, RTOL, ATOL * Math.sqrt(cols), `${isa} ${back} (${rows}, ${cols})`);
      }
    }
  });
});

test("native crossEntropy and its backward match the reference, ignored rows included", (t) => {
  const crossEntropy = nativeKernel(t, "crossEntropy");
  const crossEntropyBackward = nativeKernel(t, "crossEntropyBackward");
  if (!crossEntropy || !crossEntropyBackward) return;
  const rand = seededRandom(23);
  forEachIsa((isa) => {
    for (const [rows, cols] of ROW_SHAPES) {
      const size = rows * cols;
      const logits = randomArray(size, rand, 20);
      const targets = Int32Array.from({ length: rows }, (_, r) => (r % 3 === 1 ? -1 : Math.floor(rand() * cols)));
      const [pe, pa] = [new Float32Array(size), new Float32Array(size).fill(NaN)];
      const le = ref.crossEntropy(logits, targets, pe, rows, cols);
      const la = crossEntropy(logits, targets, pa, rows, cols);
      assertClose([la], [le], RTOL, ATOL * rows, `${isa} crossEntropy loss (${rows}, ${cols})`);
      assertClose(pa, pe, RTOL, 1e-30, `${isa} crossEntropy probs (${rows}, ${cols})`);
      const [ge, ga] = [new Float32Array(size), new Float32Array(size).fill(NaN)];
      ref.crossEntropyBackward(pe, targets, ge, rows, cols, 0.5);
      crossEntropyBackward(pe, targets, ga, rows, cols, 0.5);
      assertClose(ga, ge, 1e-6, 1e-30, `${isa} crossEntropyBackward (${rows}, ${cols})`);
    }
  });
});

test("native layerNorm and layerNormBackward match the reference, with and without gamma and beta", (t) => {
  const layerNorm = nativeKernel(t, "layerNorm");
  const layerNormBackward = nativeKernel(t, "layerNormBackward");
  if (!layerNorm || !layerNormBackward) return;
  const rand = seededRandom(24);
  forEachIsa((isa) => {
    for (const [rows, cols] of ROW_SHAPES) {
      for (const affine of [true, false]) {
        const size = rows * cols;
        // An offset mean (3) checks that the variance is taken around it.
        const x = randomArray(size, rand, 2).map((v) => v + 3);
        const gamma = affine ? randomArray(cols, rand) : null;
        const beta = affine ? randomArray(cols, rand) : null;
        const what = `${isa} layerNorm (${rows}, ${cols}) affine=${affine}`;
        const fwd = (impl: typeof ref.layerNorm) => {
          const out = new Float32Array(size).fill(NaN);
          const mean = new Float32Array(rows);
          const rstd = new Float32Array(rows);
          impl(x, gamma, beta, out, mean, rstd, rows, cols, 1e-5);
          return { out, mean, rstd };
        };
        const e = fwd(ref.layerNorm);
        const a = fwd(layerNorm);
        assertClose(a.mean, e.mean, RTOL, ATOL, `${what} mean`);
        assertClose(a.rstd, e.rstd, RTOL, ATOL, `${what} rstd`);
        // cols == 1 normalises to exactly 0 up to rounding of x - mean: absolute floor.
        assertClose(a.out, e.out, RTOL, 1e-4, `${what} out`);
        const gy = randomArray(size, rand);
        const bwd = (impl: typeof ref.layerNormBackward) => {
          const gx = new Float32Array(size).fill(NaN);
          const gg = affine ? new Float32Array(cols).fill(NaN) : null;
          const gb = affine ? new Float32Array(cols).fill(NaN) : null;
          impl(x, gamma, e.mean, e.rstd, gy, gx, gg, gb, rows, cols);
          return { gx, gg, gb };
        };
        const ge = bwd(ref.layerNormBackward);
        const ga = bwd(layerNormBackward);
        assertClose(ga.gx, ge.gx, 1e-4, 1e-4, `${what} gx`);
        if (ga.gg && ge.gg && ga.gb && ge.gb) {
          assertClose(ga.gg, ge.gg, RTOL, ATOL * rows, `${what} ggamma`);
          assertClose(ga.gb, ge.gb, RTOL, ATOL * rows, `${what} gbeta`);
        }
      }
    }
  });
});

test("native batchNorm (training and evaluation) and batchNormBackward match the reference", (t) => {
  const batchNorm = nativeKernel(t, "batchNorm");
  const batchNormBackward = nativeKernel(t, "batchNormBackward");
  if (!batchNorm || !batchNormBackward) return;
  const rand = seededRandom(25);
  const shapes: [number, number, number][] = [[2, 3, 17], [4, 5, 1], [3, 2, 33], [1, 4, 127], [8, 16, 49]];
  forEachIsa((isa) => {
    for (const [n, c, hw] of shapes) {
      const size = n * c * hw;
      const x = randomArray(size, rand, 2).map((v) => v - 1);
      const gamma = randomArray(c, rand);
      const beta = randomArray(c, rand);
      const runMean0 = randomArray(c, rand);
      const runVar0 = randomArray(c, rand).map((v) => Math.abs(v) + 0.5);
      for (const training of [true, false]) {
        const what = `${isa} batchNorm (${n}, ${c}, ${hw}) training=${training}`;
        const run = (impl: typeof ref.batchNorm) => {
          const s = {
            out: new Float32Array(size).fill(NaN), mean: new Float32Array(c), invstd: new Float32Array(c),
            rm: runMean0.slice(), rv: runVar0.slice(),
          };
          impl(x, gamma, beta, s.out, s.mean, s.invstd, s.rm, s.rv, n, c, hw, 1e-5, 0.1, training);
          return s;
        };
        const e = run(ref.batchNorm);
        const a = run(batchNorm);
        for (const key of ["out", "mean", "invstd", "rm", "rv"] as const) assertClose(a[key], e[key], RTOL, 1e-5, `${what} ${key}`);
        if (!training) continue;
        const gy = randomArray(size, rand);
        const bwd = (impl: typeof ref.batchNormBackward) => {
          const s = { gx: new Float32Array(size).fill(NaN), gg: new Float32Array(c), gb: new Float32Array(c) };
          impl(x, gamma, e.mean, e.invstd, gy, s.gx, s.gg, s.gb, n, c, hw);
          return s;
        };
        const ge = bwd(ref.batchNormBackward);
        const ga = bwd(batchNormBackward);
        assertClose(ga.gx, ge.gx, 1e-4, 1e-5, `${what} gx`);
        assertClose(ga.gg, ge.gg, RTOL, 1e-5 * n * hw, `${what} ggamma`);
        assertClose(ga.gb, ge.gb, RTOL, 1e-5 * n * hw, `${what} gbeta`);
      }
    }
  });
});
