// The bf16 GEMM (GemmParams.bf16; Note [bf16 gemm paths] in native/kernels/bf16-gemm/bf16-gemm.h)
// on every path this CPU has, and the reference backend's, against float64 products.
//
// Tolerances, for one output c = sum over l < K of a_l b_l (alpha 1, beta 0):
// - Against the float64 product of the bf16-rounded inputs (ã, b̃): each ã_l b̃_l is exact in
//   float32 (two 8-bit significands make at most 16 bits), so the only error is the float32
//   summation's. K - 1 additions, each rounding with relative error at most u = 2^-24, give
//   |c - sum ã b̃| <= gamma(K) sum |ã b̃|, gamma(K) = K u / (1 - K u) (Higham, Accuracy and
//   Stability, 3.1), in any order of summation, which is what lets the hardware paths add pairs
//   and tiles in their own order. We allow gamma(K + 2) for the alpha scale and an epilogue add.
// - Against the float64 product of the unrounded inputs (a, b): rounding to bf16 changes each
//   input by a relative 2^-8 at most (8 significant bits, round to nearest), so each product by
//   at most (1 + 2^-8)^2 - 1 = 2^-7 + 2^-16 of |a_l b_l|; over K terms that adds up to
//   (2^-7 + 2^-16) sum |a b|; with the summation's error, whose sum |ã b̃| is at most
//   (1 + 2^-7 + 2^-16) sum |a b|, the bound is (2^-7 + 2^-16 + gamma(K + 2)(1 + 2^-7 + 2^-16))
//   sum |a b|. It grows with K through sum |a b|: the relative error per term does not.
// The hardware paths treat subnormal bf16 inputs as zero; the inputs here are uniform in [-1, 1),
// which in practice never draws one.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { GemmParams } from "../../src/backend/backend.js";
import { nativeAddon, nativeKernels, type Bf16GemmPath } from "../../src/backend/native/index.js";
import { denseKernels as ref } from "../../src/backend/reference/dense.js";
import { roundToBf16 } from "../../src/backend/reference/bf16-round.js";
import { randomArray, seededRandom } from "./pointwise-fixtures.js";
import { forEachIsa } from "./native-variants.js";

const U = 2 ** -24;
const gamma = (k: number): number => (k * U) / (1 - k * U);
const BF16_PRODUCT = 2 ** -7 + 2 ** -16;

interface Case { m: number; n: number; k: number; transA: boolean; transB: boolean }

// Sizes from 1 x 1 x 1 through partial micro-tiles of every kernel (4 x 8 scalar, 6 x 16 AVX2,
// 12 x 32 AVX512-BF16, 32 x 32 AMX), an odd depth (AVX512-BF16 pairs steps, AMX takes 32), and a
// depth past one cache block (256 on both hardware paths), each with every transpose.
const SIZES: [number, number, number][] = [[1, 1, 1], [7, 13, 5], [65, 33, 17], [13, 70, 300]];
const CASES: Case[] = SIZES.flatMap(([m, n, k]) =>
  [false, true].flatMap((transA) => [false, true].map((transB) => ({ m, n, k, transA, transB }))));

function params(c: Case, bf16: boolean): GemmParams {
  return {
    transA: c.transA, transB: c.transB, m: c.m, n: c.n, k: c.k, alpha: 1, beta: 0,
    lda: c.transA ? c.m : c.k, ldb: c.transB ? c.k : c.n, ldc: c.n,
    batch: 1, offsetA: 0, offsetB: 0, offsetC: 0, strideA: 0, strideB: 0, strideC: 0, bf16,
  };
}

/** For each output: the float64 sum of products after `read`, and the sum of their magnitudes. */
function float64Product(c: Case, a: Float32Array, b: Float32Array, read: (x: number) => number): { sum: Float64Array; abs: Float64Array } {
  const sum = new Float64Array(c.m * c.n), abs = new Float64Array(c.m * c.n);
  for (let i = 0; i < c.m; i++) {
    for (let j = 0; j < c.n; j++) {
      for (let l = 0; l < c.k; l++) {
        const x = read(c.transA ? a[l * c.m + i]! : a[i * c.k + l]!);
        const y = read(c.transB ? b[j * c.k + l]! : b[l * c.n + j]!);
        sum[i * c.n + j] += x * y;
        abs[i * c.n + j] += Math.abs(x * y);
      }
    }
  }
  return { sum, abs };
}

type Gemm = (p: GemmParams, a: Float32Array, b: Float32Array, c: Float32Array) => void;

/** Checks one GEMM against both float64 products, over every case. */
function checkBf16Gemm(gemm: Gemm, what: string): void {
  const rand = seededRandom(19);
  for (const c of CASES) {
    const a = randomArray(c.m * c.k, rand), b = randomArray(c.k * c.n, rand);
    const got = new Float32Array(c.m * c.n).fill(Number.NaN);  // beta 0 must not read C
    gemm(params(c, true), a, b, got);
    const rounded = float64Product(c, a, b, roundToBf16), exact = float64Product(c, a, b, (x) => x);
    for (let i = 0; i < got.length; i++) {
      const name = `${what} ${JSON.stringify(c)} element ${i}`;
      const sumErr = Math.abs(got[i]! - rounded.sum[i]!), sumBound = gamma(c.k + 2) * rounded.abs[i]! + 1e-30;
      assert.ok(sumErr <= sumBound, `${name}: ${got[i]} is ${sumErr} from the float64 product of the bf16 inputs, past float32 summation's ${sumBound}`);
      const inputErr = Math.abs(got[i]! - exact.sum[i]!), inputBound = (BF16_PRODUCT + gamma(c.k + 2) * (1 + BF16_PRODUCT)) * exact.abs[i]! + 1e-30;
      assert.ok(inputErr <= inputBound, `${name}: ${got[i]} is ${inputErr} from the float64 product, past bf16's ${inputBound}`);
    }
  }
}

/** Runs `body` on `path` (restoring the path before), or returns false when the CPU lacks it. */
function onPath(path: Bf16GemmPath | "dot-layout" | "tile-layout", body: () => void): boolean {
  const addon = nativeAddon!;
  const before = addon.bf16Path!();
  if (!addon.setBf16Path!(path)) return false;
  try {
    body();
  } finally {
    addon.setBf16Path!(before);
  }
  return true;
}

const paths = nativeAddon?.bf16Paths?.() ?? [];
const nativeGemm = nativeKernels.gemm;
const noAddon = nativeGemm === undefined || paths.length === 0 ? "native addon without the bf16 GEMM: run `npm run build:native`" : false;

test("reference bf16 gemm: within float32 summation of the bf16 product, within bf16's error of the exact one", () => {
  checkBf16Gemm(ref.gemm, "reference");
});

test("emulated bf16 gemm agrees with float64 products on every float32 kernel this CPU runs", { skip: noAddon }, () => {
  onPath("emulated", () => forEachIsa((isa) => checkBf16Gemm(nativeGemm!, `emulated on ${isa}`)));
});

test("the avx512bf16 and amx drivers, packing and edges, with their instructions interpreted, agree with float64 products", { skip: noAddon }, () => {
  for (const layout of ["dot-layout", "tile-layout"] as const) assert.ok(onPath(layout, () => checkBf16Gemm(nativeGemm!, layout)));
});

// These two paths need instructions most CPUs lack (this one is the proof on an AVX2-only
// machine): they run only where the CPU reports them, and say so when skipped.
for (const [path, feature] of [["avx512bf16", "AVX512-BF16 (cpu flag avx512_bf16)"], ["amx", "AMX-BF16 (cpu flags amx_bf16, amx_tile)"]] as const) {
  const skip = noAddon || (paths.includes(path) ? false : `this CPU lacks ${feature}, so the ${path} kernel cannot run here`);
  test(`${path} bf16 gemm agrees with float64 products`, { skip }, () => {
    assert.ok(onPath(path, () => checkBf16Gemm(nativeGemm!, path)));
  });
}

test("bf16 gemm really rounds: its product differs from float32's, and equals the float32 product of rounded inputs", { skip: noAddon }, () => {
  const c: Case = { m: 9, n: 11, k: 40, transA: false, transB: true };
  const rand = seededRandom(7);
  const a = randomArray(c.m * c.k, rand), b = randomArray(c.k * c.n, rand);
  const f32 = new Float32Array(c.m * c.n), bf16 = new Float32Array(c.m * c.n), roundedF32 = new Float32Array(c.m * c.n);
  nativeGemm!(params(c, false), a, b, f32);
  nativeGemm!(params(c, true), a, b, bf16);
  // The emulated path is, by its definition, the float32 GEMM of the rounded operands: same bits.
  onPath("emulated", () => nativeGemm!(params(c, false), a.map(roundToBf16), b.map(roundToBf16), roundedF32));
  assert.ok(f32.some((v, i) => v !== bf16[i]), "the bf16 product equals the float32 one bit for bit: nothing was rounded");
  if (nativeAddon!.bf16Path!() === "emulated") assert.deepEqual(bf16, roundedF32);
});

test("bf16 gemmEpilogue: the bias, GELU and residual act on the bf16 product as on a float32 one", { skip: noAddon }, () => {
  const c: Case = { m: 17, n: 35, k: 29, transA: false, transB: true };
  const rand = seededRandom(3);
  const a = randomArray(c.m * c.k, rand), b = randomArray(c.k * c.n, rand);
  const bias = randomArray(c.n, rand), residual = randomArray(c.m * c.n, rand);
  for (const path of [...paths, "dot-layout", "tile-layout"] as const) {
    onPath(path, () => {
      const fused = new Float32Array(c.m * c.n), product = new Float32Array(c.m * c.n), want = new Float32Array(c.m * c.n);
      const derivative = new Float32Array(c.m * c.n);
      nativeKernels.gemmEpilogue!(params(c, true), a, b, fused, "gelu", bias, residual, derivative);
      nativeGemm!(params(c, true), a, b, product);
      // The reference epilogue on the same product (an identity GEMM of it), so only the epilogue is compared.
      const eye = new Float32Array(c.n * c.n).map((_, i) => (i % (c.n + 1) === 0 ? 1 : 0));
      ref.gemmEpilogue({ ...params({ m: c.m, n: c.n, k: c.n, transA: false, transB: false }, false) }, product, eye, want, "gelu", bias, residual, null);
      for (let i = 0; i < want.length; i++) {
        assert.ok(Math.abs(fused[i]! - want[i]!) <= 1e-5 * (1 + Math.abs(want[i]!)), `${path} element ${i}: ${fused[i]} vs ${want[i]}`);
      }
    });
  }
});
