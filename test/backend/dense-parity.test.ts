// The native GEMM, convolution and pooling kernels agree with the reference backend, for every
// instruction-set variant this machine runs, on shapes chosen to hit the edges of the native
// blocking: sizes 1, 3, 17, 33, 127 (partial micro-tiles), depths past one cache block, padded
// leading dimensions, batches with offsets and strides, beta 0 over NaN and beta 1.
//
// Tolerance: the reference sums in float64, the native kernels in float32 (in another order), so
// an output may differ by a few float32 roundings per term. Each check's bound is computed from
// the same kernel run on absolute values: |native - reference| <= 4 * eps32 * (terms + 2) * bound,
// the textbook error bound of a float32 dot product, so a wrong index fails it while a
// reordering of the sum cannot.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Conv2dParams, GemmParams, Pool2dParams } from "../../src/backend/backend.js";
import { outputSize } from "../../src/backend/backend.js";
import { nativeAddon, nativeKernels } from "../../src/backend/native/index.js";
import { denseKernels as ref } from "../../src/backend/reference/dense.js";
import { randomArray, seededRandom } from "./pointwise-fixtures.js";

const EPS32 = 2 ** -23;
type Isa = "scalar" | "avx2fma" | "avx512";

/** The native kernels, or null (and a skip message) when the addon is not built. */
function native(t: { skip(message: string): void }): typeof nativeKernels | null {
  if (nativeKernels.gemm !== undefined) return nativeKernels;
  assert.notEqual(process.env.WEFT_REQUIRE_NATIVE, "1", "WEFT_REQUIRE_NATIVE=1 but the addon's dense kernels are missing");
  t.skip("native addon not built (npm run build:native); only the reference is checked");
  return null;
}

/** Runs `body` once per instruction-set variant the CPU supports, restoring the active one after. */
function forEachIsa(body: (isa: Isa) => void): void {
  const addon = nativeAddon!;
  const before = addon.isa() as Isa;
  try {
    for (const isa of ["scalar", "avx2fma", "avx512"] as const) {
      if (addon.setIsa(isa)) body(isa);
    }
  } finally {
    addon.setIsa(before);
  }
}

const abs = (x: Float32Array): Float32Array => x.map(Math.abs);

/** Asserts |got - want| <= 4 * eps32 * (terms + 2) * bound elementwise (NaN must match NaN). */
function assertClose(what: string, got: Float32Array, want: Float32Array, bound: Float32Array, terms: number): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i])) {
      assert.ok(Number.isNaN(got[i]), `${what}[${i}]: expected NaN, got ${got[i]}`);
      continue;
    }
    const tol = 4 * EPS32 * (terms + 2) * bound[i] + 1e-30;
    assert.ok(Math.abs(got[i] - want[i]) <= tol, `${what}[${i}]: native ${got[i]}, reference ${want[i]} (tolerance ${tol})`);
  }
}

// ---- GEMM --------------------------------------------------------------------------------------

interface GemmCase { m: number; n: number; k: number; transA: boolean; transB: boolean; batch: number; pad: number; alpha: number; beta: number }

function gemmParams(c: GemmCase): { p: GemmParams; sizes: [number, number, number] } {
  const lda = (c.transA ? c.m : c.k) + c.pad, ldb = (c.transB ? c.k : c.n) + c.pad, ldc = c.n + c.pad;
  const aSize = (c.transA ? c.k : c.m) * lda, bSize = (c.transB ? c.n : c.k) * ldb, cSize = c.m * ldc;
  // Batches sit apart (stride larger than a matrix) after a leading offset, so a kernel that
  // ignores offsets or strides, or writes past a matrix, is caught.
  const p: GemmParams = {
    transA: c.transA, transB: c.transB, m: c.m, n: c.n, k: c.k, alpha: c.alpha, beta: c.beta, lda, ldb, ldc,
    batch: c.batch, offsetA: 5, offsetB: 2, offsetC: 3, strideA: aSize + 7, strideB: bSize + 1, strideC: cSize + 4,
  };
  return { p, sizes: [5 + c.batch * (aSize + 7), 2 + c.batch * (bSize + 1), 3 + c.batch * (cSize + 4) + 2] };
}

function checkGemm(kernels: typeof nativeKernels, c: GemmCase, seed: number, isa: Isa): void {
  const rand = seededRandom(seed);
  const { p, sizes } = gemmParams(c);
  const a = randomArray(sizes[0], rand), b = randomArray(sizes[1], rand);
  const c0 = randomArray(sizes[2], rand);
  // With beta 0, C's old contents (NaN here) must not leak into the result.
  if (c.beta === 0) c0.fill(NaN);
  const want = c0.slice(), got = c0.slice();
  ref.gemm(p, a, b, want);
  kernels.gemm!(p, a, b, got);
  const bound = abs(c0).map((v) => (Number.isNaN(v) ? 0 : v));
  ref.gemm({ ...p, alpha: Math.abs(p.alpha), beta: Math.abs(p.beta) }, abs(a), abs(b), bound);
  // Entries outside the matrices keep their NaN (beta 0) or old value: compared exactly by NaN-ness.
  assertClose(`gemm ${JSON.stringify(c)} on ${isa}`, got, want, bound, c.k);
}

const SIZES = [1, 3, 17, 33, 127];

test("native gemm matches the reference over sizes, transposes, padding, batches and beta", (t) => {
  const kernels = native(t);
  if (!kernels) return;
  forEachIsa((isa) => {
    let seed = 1;
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        // Every size appears as m, n and k; the triples avoid the full 5^3 product to stay fast.
        for (let i = 0; i < SIZES.length; i++) {
          const m = SIZES[i], n = SIZES[(i + 1) % 5], k = SIZES[(i + 3) % 5];
          const beta = i % 2 === 0 ? 0 : 1;
          checkGemm(kernels, { m, n, k, transA, transB, batch: 1, pad: 0, alpha: 1, beta }, seed++, isa);
          checkGemm(kernels, { m: k, n: m, k: n, transA, transB, batch: 3, pad: 3, alpha: -0.5, beta: 1 - beta }, seed++, isa);
        }
      }
    }
  });
});

test("native gemm crosses its cache blocks: deep k, tall m, wide n, beta 0.5", (t) => {
  const kernels = native(t);
  if (!kernels) return;
  forEachIsa((isa) => {
    const cases: GemmCase[] = [
      { m: 7, n: 19, k: 600, transA: false, transB: true, batch: 1, pad: 1, alpha: 1, beta: 0.5 },
      { m: 301, n: 9, k: 40, transA: true, transB: false, batch: 1, pad: 0, alpha: 2, beta: 0 },
      { m: 2, n: 4200, k: 5, transA: false, transB: false, batch: 2, pad: 2, alpha: 1, beta: 1 },
      { m: 64, n: 64, k: 64, transA: false, transB: false, batch: 2, pad: 0, alpha: 1, beta: 0 },
      // Tall C, small B across depth blocks: B packed once, row blocks outermost.
      { m: 300, n: 20, k: 400, transA: false, transB: true, batch: 1, pad: 1, alpha: -1, beta: 0.5 },
      // A weight gradient's shape: g^T x, transposed A packed row by row across depth blocks.
      { m: 20, n: 33, k: 450, transA: true, transB: false, batch: 1, pad: 1, alpha: 1, beta: 0.5 },
    ];
    cases.forEach((c, i) => checkGemm(kernels, c, 100 + i, isa));
  });
});

test("native gemm with k = 0 or an empty batch only scales C", (t) => {
  const kernels = native(t);
  if (!kernels) return;
  forEachIsa((isa) => {
    checkGemm(kernels, { m: 3, n: 5, k: 0, transA: false, transB: false, batch: 2, pad: 1, alpha: 1, beta: 0 }, 7, isa);
    checkGemm(kernels, { m: 3, n: 5, k: 0, transA: true, transB: true, batch: 1, pad: 0, alpha: 1, beta: 2 }, 8, isa);
    checkGemm(kernels, { m: 3, n: 5, k: 4, transA: false, transB: false, batch: 0, pad: 0, alpha: 1, beta: 0 }, 9, isa);
  });
});

test("native gemm rejects buffers too short for the shapes instead of reading past them", (t) => {
  const kernels = native(t);
  if (!kernels) return;
  const { p } = gemmParams({ m: 4, n: 5, k: 6, transA: false, transB: true, batch: 2, pad: 1, alpha: 1, beta: 0 });
  // The last batch entry's last row ends exactly at these lengths.
  const needA = p.offsetA + p.strideA + 3 * p.lda + 6, needB = p.offsetB + p.strideB + 4 * p.ldb + 6;
  const needC = p.offsetC + p.strideC + 3 * p.ldc + 5;
  const f = (n: number) => new Float32Array(n);
  kernels.gemm!(p, f(needA), f(needB), f(needC));
  assert.throws(() => kernels.gemm!(p, f(needA - 1), f(needB), f(needC)), RangeError);
  assert.throws(() => kernels.gemm!(p, f(needA), f(needB - 1), f(needC)), RangeError);
  assert.throws(() => kernels.gemm!(p, f(needA), f(needB), f(needC - 1)), RangeError);
  assert.throws(() => kernels.gemm!({ ...p, ldb: 5 }, f(needA), f(needB), f(needC)), RangeError);
});

// ---- convolution -------------------------------------------------------------------------------

const conv = (n: number, c: number, h: number, w: number, oc: number, kh: number, kw: number, strideH = 1, strideW = 1, padH = 0, padW = 0): Conv2dParams =>
  ({ n, c, h, w, oc, kh, kw, strideH, strideW, padH, padW });

const CONV_CASES: Conv2dParams[] = [
  conv(2, 3, 7, 5, 4, 3, 3),
  conv(2, 2, 9, 6, 3, 3, 2, 2, 1, 1, 0), // stride 2, padding 1, non-square kernel and image
  conv(1, 3, 8, 7, 5, 3, 3, 2, 2, 1, 1),
  conv(2, 1, 28, 28, 8, 3, 3), // the MNIST first layer, fewer channels
  conv(2, 17, 5, 5, 33, 3, 3, 1, 1, 1, 1), // depth 153, 33 output channels
  conv(1, 33, 6, 6, 7, 3, 3), // depth 297: more than one depth block
  conv(1, 2, 4, 4, 150, 1, 1), // 150 output channels: more than one row block
  conv(1, 1, 48, 48, 2, 3, 3), // 2116 output pixels: more than one column block
  conv(3, 4, 5, 3, 2, 5, 3, 1, 2, 2, 1),
  // Few taps, stride 1: the direct kernels (padded; rows of 9 and of exactly 8 outputs).
  conv(2, 1, 9, 12, 5, 3, 3, 1, 1, 1, 1),
  conv(1, 2, 6, 10, 3, 2, 2),
  conv(2, 1, 5, 10, 3, 1, 3),
  // 3x3, stride 1, >= 8 channels: Winograd (outputs not a multiple of the tile, both paddings,
  // more channels than a GEMM block, partial groups of images, a 1x1 output).
  conv(2, 8, 13, 13, 16, 3, 3),
  conv(1, 9, 7, 10, 8, 3, 3, 1, 1, 2, 1),
  conv(3, 12, 4, 20, 9, 3, 3),
  conv(1, 260, 3, 4, 8, 3, 3, 1, 1, 1, 1),
  conv(1, 8, 4, 4, 150, 3, 3, 1, 1, 1, 1),
  conv(2, 8, 3, 3, 8, 3, 3),
  conv(1, 8, 6, 18, 8, 3, 3, 1, 1, 1, 1),
  conv(10, 8, 6, 6, 8, 3, 3, 1, 1, 1, 1), // two groups of images, the second partial
  conv(1, 8, 6, 66, 8, 3, 3, 1, 1, 1, 1), // rows of 17 tiles: a chunk per tile row
];

// Winograd's F(4x4, 3x3) (3x3 stride-1 layers) adds a fixed number of roundings to each output,
// through its input, weight and output transforms (which scale values by up to about 100),
// whatever the depth of the sum: counted here as 64 more terms (the most seen is about 20).
const TRANSFORM_TERMS = 64;

const convSizes = (p: Conv2dParams) => {
  const oh = outputSize(p.h, p.kh, p.strideH, p.padH), ow = outputSize(p.w, p.kw, p.strideW, p.padW);
  return { x: p.n * p.c * p.h * p.w, w: p.oc * p.c * p.kh * p.kw, y: p.n * p.oc * oh * ow, pixels: oh * ow };
};

test("native conv2d and both its gradients match the reference", (t) => {
  const kernels = native(t);
  if (!kernels) return;
  forEachIsa((isa) => {
    CONV_CASES.forEach((p, ci) => {
      const rand = seededRandom(200 + ci);
      const s = convSizes(p);
      const x = randomArray(s.x, rand), w = randomArray(s.w, rand), bias = randomArray(p.oc, rand), gy = randomArray(s.y, rand);
      const what = `${JSON.stringify(p)} on ${isa}`;
      const taps = p.c * p.kh * p.kw;
      for (const withBias of [true, false]) {
        const b = withBias ? bias : null;
        const want = new Float32Array(s.y), got = new Float32Array(s.y).fill(NaN), bound = new Float32Array(s.y);
        ref.conv2d(p, x, w, b, want);
        kernels.conv2d!(p, x, w, b, got);
        ref.conv2d(p, abs(x), abs(w), b && abs(b), bound);
        assertClose(`conv2d ${what} bias=${withBias}`, got, want, bound, taps + 1 + TRANSFORM_TERMS);
      }
      {
        const want = new Float32Array(s.x), got = new Float32Array(s.x).fill(NaN), bound = new Float32Array(s.x);
        ref.conv2dBackwardInput(p, gy, w, want);
        kernels.conv2dBackwardInput!(p, gy, w, got);
        ref.conv2dBackwardInput(p, abs(gy), abs(w), bound);
        assertClose(`conv2dBackwardInput ${what}`, got, want, bound, p.oc * p.kh * p.kw + TRANSFORM_TERMS);
      }
      for (const withBias of [true, false]) {
        const want = new Float32Array(s.w), got = new Float32Array(s.w).fill(NaN), bound = new Float32Array(s.w);
        const gbWant = new Float32Array(p.oc), gbGot = new Float32Array(p.oc).fill(NaN), gbBound = new Float32Array(p.oc);
        ref.conv2dBackwardWeight(p, x, gy, want, withBias ? gbWant : null);
        kernels.conv2dBackwardWeight!(p, x, gy, got, withBias ? gbGot : null);
        ref.conv2dBackwardWeight(p, abs(x), abs(gy), bound, gbBound);
        assertClose(`conv2dBackwardWeight ${what}`, got, want, bound, p.n * s.pixels + TRANSFORM_TERMS);
        if (withBias) assertClose(`conv2dBackwardWeight bias ${what}`, gbGot, gbWant, gbBound, p.n * s.pixels);
      }
    });
  });
});

test("native conv2d rejects short buffers and kernels larger than the padded input", (t) => {
  const kernels = native(t);
  if (!kernels) return;
  const p = conv(2, 3, 7, 5, 4, 3, 3);
  const s = convSizes(p);
  const f = (n: number) => new Float32Array(n);
  assert.throws(() => kernels.conv2d!(p, f(s.x - 1), f(s.w), null, f(s.y)), RangeError);
  assert.throws(() => kernels.conv2d!(p, f(s.x), f(s.w), f(p.oc - 1), f(s.y)), RangeError);
  assert.throws(() => kernels.conv2dBackwardInput!(p, f(s.y), f(s.w), f(s.x - 1)), RangeError);
  assert.throws(() => kernels.conv2dBackwardWeight!(p, f(s.x), f(s.y - 1), f(s.w), null), RangeError);
  assert.throws(() => kernels.conv2d!({ ...p, kh: 8 }, f(1000), f(1000), null, f(1000)), RangeError);
});

// ---- pooling -----------------------------------------------------------------------------------

const pool = (n: number, c: number, h: number, w: number, kh: number, kw: number, strideH: number, strideW: number, padH = 0, padW = 0): Pool2dParams =>
  ({ n, c, h, w, kh, kw, strideH, strideW, padH, padW });

const POOL_CASES: Pool2dParams[] = [
  pool(2, 3, 26, 26, 2, 2, 2, 2), // the MNIST pools: even and odd planes
  pool(2, 5, 11, 11, 2, 2, 2, 2),
  pool(1, 3, 13, 17, 2, 2, 2, 2),
  pool(2, 3, 7, 6, 2, 2, 2, 2), // rows of 3 outputs
  pool(1, 2, 1, 33, 1, 2, 1, 2),
  pool(2, 2, 9, 7, 3, 3, 2, 2, 1, 1), // padded, overlapping windows
  pool(1, 3, 6, 5, 3, 2, 1, 1), // stride 1: every input in several windows
  pool(1, 1, 5, 5, 2, 2, 3, 3, 1, 1), // gaps between windows
];

const poolSizes = (p: Pool2dParams) => ({
  x: p.n * p.c * p.h * p.w,
  y: p.n * p.c * outputSize(p.h, p.kh, p.strideH, p.padH) * outputSize(p.w, p.kw, p.strideW, p.padW),
});

test("native max pooling matches the reference exactly, ties and NaN included", (t) => {
  const kernels = native(t);
  if (!kernels) return;
  forEachIsa((isa) => {
    POOL_CASES.forEach((p, ci) => {
      const rand = seededRandom(300 + ci);
      const s = poolSizes(p);
      // Few distinct values, so windows hold ties: the first maximum (row-major) must win.
      const x = new Float32Array(s.x).map(() => Math.round(rand() * 6) - 3);
      x[Math.floor(rand() * s.x)] = NaN;
      x[Math.floor(rand() * s.x)] = -Infinity;
      const want = new Float32Array(s.y), got = new Float32Array(s.y);
      const argWant = new Int32Array(s.y), argGot = new Int32Array(s.y).fill(-7);
      ref.maxPool2d(p, x, want, argWant);
      kernels.maxPool2d!(p, x, got, argGot);
      const what = `${JSON.stringify(p)} on ${isa}`;
      assert.deepEqual(argGot, argWant, `maxPool2d argmax ${what}`);
      assert.deepEqual(got, want, `maxPool2d ${what}`);
      const gy = randomArray(s.y, rand);
      const gxWant = new Float32Array(s.x), gxGot = new Float32Array(s.x).fill(NaN), bound = new Float32Array(s.x);
      ref.maxPool2dBackward(p, gy, argWant, gxWant);
      kernels.maxPool2dBackward!(p, gy, argWant, gxGot);
      ref.maxPool2dBackward(p, abs(gy), argWant, bound);
      assertClose(`maxPool2dBackward ${what}`, gxGot, gxWant, bound, p.kh * p.kw);
    });
  });
});

test("native average pooling and its gradient match the reference", (t) => {
  const kernels = native(t);
  if (!kernels) return;
  forEachIsa((isa) => {
    POOL_CASES.forEach((p, ci) => {
      const rand = seededRandom(400 + ci);
      const s = poolSizes(p);
      const x = randomArray(s.x, rand), gy = randomArray(s.y, rand);
      const what = `${JSON.stringify(p)} on ${isa}`;
      const want = new Float32Array(s.y), got = new Float32Array(s.y).fill(NaN), bound = new Float32Array(s.y);
      ref.avgPool2d(p, x, want);
      kernels.avgPool2d!(p, x, got);
      ref.avgPool2d(p, abs(x), bound);
      assertClose(`avgPool2d ${what}`, got, want, bound, p.kh * p.kw);
      const gxWant = new Float32Array(s.x), gxGot = new Float32Array(s.x).fill(NaN), gxBound = new Float32Array(s.x);
      ref.avgPool2dBackward(p, gy, gxWant);
      kernels.avgPool2dBackward!(p, gy, gxGot);
      ref.avgPool2dBackward(p, abs(gy), gxBound);
      assertClose(`avgPool2dBackward ${what}`, gxGot, gxWant, gxBound, p.kh * p.kw);
    });
  });
});

test("native max-pool backward scatters an argmax from elsewhere in the plane like the reference", (t) => {
  const kernels = native(t);
  if (!kernels) return;
  forEachIsa((isa) => {
    // 2x2 windows of a 4x4 plane; the second and last argmax point outside their own windows.
    const p = pool(1, 1, 4, 4, 2, 2, 2, 2);
    const argmax = new Int32Array([5, 0, 12, 0]);
    const gy = new Float32Array([1, 2, 3, 4]);
    const want = new Float32Array(16), got = new Float32Array(16).fill(NaN);
    ref.maxPool2dBackward(p, gy, argmax, want);
    kernels.maxPool2dBackward!(p, gy, argmax, got);
    assert.deepEqual(got, want, `on ${isa}`);
  });
});

test("native max-pool backward rejects an argmax outside the plane", (t) => {
  const kernels = native(t);
  if (!kernels) return;
  const p = pool(1, 1, 4, 4, 2, 2, 2, 2);
  const argmax = new Int32Array([0, 2, 8, 16]);
  assert.throws(() => kernels.maxPool2dBackward!(p, new Float32Array(4), argmax, new Float32Array(16)), RangeError);
  assert.throws(() => kernels.maxPool2d!(p, new Float32Array(15), new Float32Array(4), new Int32Array(4)), RangeError);
});

// ---- the reference gradients are true gradients --------------------------------------------------

/**
 * Checks that `grad` is the gradient of `loss` at `x` along a random direction d, by central
 * differences in float64: (loss(x + h d) - loss(x - h d)) / 2h ≈ <grad, d>. The convolutions and
 * pools are piecewise linear, so the only error is float32 rounding of x ± h d and of the outputs.
 */
function checkGradient(what: string, x: Float32Array, grad: Float32Array, loss: (x: Float32Array) => number, seed: number): void {
  const h = 1e-2;
  const d = randomArray(x.length, seededRandom(seed));
  const xp = x.map((v, i) => v + h * d[i]), xm = x.map((v, i) => v - h * d[i]);
  let analytic = 0, magnitude = 0;
  for (let i = 0; i < x.length; i++) {
    analytic += grad[i] * ((xp[i] - xm[i]) / (2 * h));
    magnitude += Math.abs(grad[i] * d[i]);
  }
  const numeric = (loss(xp) - loss(xm)) / (2 * h);
  assert.ok(Math.abs(analytic - numeric) <= 1e-4 * Math.max(1, magnitude), `${what}: analytic ${analytic}, numeric ${numeric}`);
}

/** <gy, y> in float64: the loss whose gradient with respect to y is gy. */
const dot = (gy: Float32Array, y: Float32Array): number => y.reduce((s, v, i) => s + v * gy[i], 0);

test("reference conv2d gradients are the finite-difference gradients of conv2d", () => {
  for (const [ci, p] of [conv(2, 2, 6, 5, 3, 3, 2, 2, 1, 1, 0), conv(1, 3, 5, 5, 2, 3, 3, 1, 1, 1, 1)].entries()) {
    const rand = seededRandom(500 + ci);
    const s = convSizes(p);
    const x = randomArray(s.x, rand), w = randomArray(s.w, rand), b = randomArray(p.oc, rand), gy = randomArray(s.y, rand);
    const y = new Float32Array(s.y);
    const lossAt = (xv: Float32Array, wv: Float32Array, bv: Float32Array) => (ref.conv2d(p, xv, wv, bv, y), dot(gy, y));
    const gx = new Float32Array(s.x), gw = new Float32Array(s.w), gb = new Float32Array(p.oc);
    ref.conv2dBackwardInput(p, gy, w, gx);
    ref.conv2dBackwardWeight(p, x, gy, gw, gb);
    checkGradient(`conv2d d/dx ${JSON.stringify(p)}`, x, gx, (xv) => lossAt(xv, w, b), 1);
    checkGradient(`conv2d d/dw ${JSON.stringify(p)}`, w, gw, (wv) => lossAt(x, wv, b), 2);
    checkGradient(`conv2d d/db ${JSON.stringify(p)}`, b, gb, (bv) => lossAt(x, w, bv), 3);
  }
});

test("reference pooling gradients are the finite-difference gradients of pooling", () => {
  for (const [ci, p] of [pool(1, 2, 5, 6, 2, 2, 2, 2), pool(1, 1, 7, 6, 3, 3, 2, 2, 1, 1), pool(1, 2, 4, 5, 3, 2, 1, 1)].entries()) {
    const rand = seededRandom(600 + ci);
    const s = poolSizes(p);
    // Distinct values 0.05 apart, more than the step moves any two of them (2 * 0.01), so no
    // window's maximum changes hands.
    const x = Float32Array.from({ length: s.x }, (_, i) => 0.05 * i).sort(() => rand() - 0.5);
    const gy = randomArray(s.y, rand);
    const y = new Float32Array(s.y), argmax = new Int32Array(s.y);
    const gx = new Float32Array(s.x);
    ref.maxPool2d(p, x, y, argmax);
    ref.maxPool2dBackward(p, gy, argmax, gx);
    checkGradient(`maxPool2d ${JSON.stringify(p)}`, x, gx, (xv) => (ref.maxPool2d(p, xv, y, new Int32Array(s.y)), dot(gy, y)), 4);
    ref.avgPool2dBackward(p, gy, gx);
    checkGradient(`avgPool2d ${JSON.stringify(p)}`, x, gx, (xv) => (ref.avgPool2d(p, xv, y), dot(gy, y)), 5);
  }
});
