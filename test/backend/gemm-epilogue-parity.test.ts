// gemmEpilogue (reference, and native under every ISA this CPU runs) against its definition
// composed here in float64: the product summed term by term, then (+ bias) + residual, then the
// activation and its derivative from float64 erfc and exp. Sizes are odd on purpose, and some
// cross the native GEMM's cache blocks (m past mc = 144 rows, k past kc = 256: the epilogue must
// wait for the last depth block, or it would run on a partial sum), with transposed operands,
// a batch with C's offset and stride, and beta != 0 (C read before the epilogue).
//
// Tolerance: v = alpha (op(A) op(B)) + beta C + bias + residual is float32 arithmetic k + 3
// roundings deep, so |v - v64| <= (k + 3) u M with M the sum of the magnitudes of its terms
// (u = 2^-24; the factor 4 below covers the blocked sum's different order). An activation moves
// that error by at most its slope: |relu'| <= 1, |gelu'| <= 1.13, |gelu''| <= 2 φ(0) = 0.8, and
// adds its own: GELU and its derivative are within 9e-7 relative and 2e-7 absolute of float64
// (measured over [-16, 16]; Note [normal CDF and density from one exp]): 2e-6 and 1e-6 here.
// ReLU's derivative is exact except where v is within its tolerance of 0, which is skipped.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ACTIVATIONS, type Activation, type Backend, type GemmParams } from "../../src/backend/backend.js";
import { denseKernels } from "../../src/backend/reference/dense.js";
import { erfc } from "../../src/backend/reference/erf.js";
import { randomArray, seededRandom } from "./pointwise-fixtures.js";
import { forEachIsa, nativeKernel } from "./native-variants.js";

type GemmEpilogue = Backend["gemmEpilogue"];

interface Case {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  batch: number;
  beta: number;
}

const CASES: Case[] = [
  { m: 1, n: 1, k: 1, transA: false, transB: false, batch: 1, beta: 0 },
  { m: 7, n: 17, k: 5, transA: false, transB: true, batch: 1, beta: 0 },
  { m: 33, n: 9, k: 130, transA: true, transB: false, batch: 2, beta: 0 },
  { m: 150, n: 21, k: 300, transA: false, transB: true, batch: 1, beta: 0 },
  { m: 13, n: 40, k: 260, transA: true, transB: true, batch: 2, beta: 0.5 },
  { m: 5, n: 3, k: 0, transA: false, transB: false, batch: 1, beta: 0.5 },
];

const U = 2 ** -24;
const SQRT1_2 = Math.SQRT1_2;
const normalCdf = (v: number) => 0.5 * erfc(-v * SQRT1_2);
const normalPdf = (v: number) => Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI);

/** act(v), act'(v) in float64, the slopes bounding how far an error in v moves each, and each one's own error. */
const DEFINITION: Record<Activation, { f: (v: number) => number; df: (v: number) => number; slope: number; dSlope: number; rel: number; abs: number }> = {
  none: { f: (v) => v, df: () => 1, slope: 1, dSlope: 0, rel: 0, abs: 0 },
  relu: { f: (v) => Math.max(v, 0), df: (v) => (v > 0 ? 1 : 0), slope: 1, dSlope: 0, rel: 0, abs: 0 },
  gelu: { f: (v) => v * normalCdf(v), df: (v) => normalCdf(v) + v * normalPdf(v), slope: 1.13, dSlope: 0.8, rel: 2e-6, abs: 1e-6 },
};

interface Inputs {
  p: GemmParams;
  a: Float32Array;
  b: Float32Array;
  c: Float32Array;
  bias: Float32Array | null;
  residual: Float32Array | null;
}

function inputs(c: Case, withBias: boolean, withResidual: boolean, rand: () => number): Inputs {
  const { m, n, k, transA, transB, batch } = c;
  // Every operand a little larger than it must be: leading dimensions and strides with slack.
  const lda = (transA ? m : k) + 1, ldb = (transB ? k : n) + 2, ldc = n + 3;
  const strideA = (transA ? k : m) * lda + 1, strideB = (transB ? n : k) * ldb, strideC = m * ldc + 5;
  const p: GemmParams = {
    transA, transB, m, n, k, alpha: 0.75, beta: c.beta, lda, ldb, ldc, batch,
    offsetA: 2, offsetB: 1, offsetC: 3, strideA, strideB, strideC,
  };
  const cSize = 3 + batch * strideC;
  // Scale 2: enough of v lands beyond GELU's bend on both sides.
  return {
    p, a: randomArray(2 + batch * strideA, rand, 2), b: randomArray(1 + batch * strideB, rand, 2), c: randomArray(cSize, rand, 2),
    bias: withBias ? randomArray(n, rand, 2) : null, residual: withResidual ? randomArray(cSize, rand, 2) : null,
  };
}

/** v and the sum of its terms' magnitudes at every element of C, in float64. */
function composed(x: Inputs): { v: Float64Array; mag: Float64Array } {
  const { p, a, b, c, bias, residual } = x;
  const v = new Float64Array(c.length), mag = new Float64Array(c.length);
  for (let bi = 0; bi < p.batch; bi++) {
    for (let i = 0; i < p.m; i++) {
      for (let j = 0; j < p.n; j++) {
        let s = 0, sAbs = 0;
        for (let l = 0; l < p.k; l++) {
          const ail = p.transA ? a[p.offsetA + bi * p.strideA + l * p.lda + i]! : a[p.offsetA + bi * p.strideA + i * p.lda + l]!;
          const blj = p.transB ? b[p.offsetB + bi * p.strideB + j * p.ldb + l]! : b[p.offsetB + bi * p.strideB + l * p.ldb + j]!;
          s += ail * blj;
          sAbs += Math.abs(ail * blj);
        }
        const at = p.offsetC + bi * p.strideC + i * p.ldc + j;
        const terms = [p.alpha * s, p.beta * c[at]!, bias ? bias[j]! : 0, residual ? residual[at]! : 0];
        v[at] = terms.reduce((t, u) => t + u, 0);
        mag[at] = Math.abs(p.alpha) * sAbs + Math.abs(p.beta * c[at]!) + Math.abs(terms[2]!) + Math.abs(terms[3]!);
      }
    }
  }
  return { v, mag };
}

function check(kernel: GemmEpilogue, c: Case, activation: Activation, withBias: boolean, withResidual: boolean, rand: () => number, what: string): void {
  const x = inputs(c, withBias, withResidual, rand);
  const { v, mag } = composed(x);
  const out = x.c.slice();
  // NaN-filled: a derivative the kernel forgets to write fails the comparison.
  const derivative = new Float32Array(out.length).fill(NaN);
  kernel(x.p, x.a, x.b, out, activation, x.bias, x.residual, derivative);
  const def = DEFINITION[activation];
  const { p } = x;
  const name = `${what} ${activation}${withBias ? " +bias" : ""}${withResidual ? " +residual" : ""} (m ${p.m}, n ${p.n}, k ${p.k}, batch ${p.batch}, beta ${p.beta}${p.transA ? ", transA" : ""}${p.transB ? ", transB" : ""})`;
  const written = new Set<number>();
  for (let bi = 0; bi < p.batch; bi++) {
    for (let i = 0; i < p.m; i++) {
      for (let j = 0; j < p.n; j++) {
        const at = p.offsetC + bi * p.strideC + i * p.ldc + j;
        written.add(at);
        const tolV = 4 * (p.k + 3) * U * mag[at]!;
        const y = def.f(v[at]!), d = def.df(v[at]!);
        const tolY = def.slope * tolV + def.rel * Math.abs(y) + 1e-30;
        assert.ok(Math.abs(out[at]! - y) <= tolY, `${name}: C[${bi}, ${i}, ${j}] is ${out[at]}, expected ${y} (tolerance ${tolY.toExponential(2)})`);
        if (activation === "relu" && Math.abs(v[at]!) <= tolV) continue;
        const tolD = def.dSlope * tolV + def.abs;
        assert.ok(Math.abs(derivative[at]! - d) <= tolD, `${name}: derivative[${bi}, ${i}, ${j}] is ${derivative[at]}, expected ${d} (tolerance ${tolD.toExponential(2)})`);
      }
    }
  }
  // Outside the matrices (the slack of ldc and strideC) nothing is written.
  for (let at = 0; at < out.length; at++) {
    if (written.has(at)) continue;
    assert.equal(out[at], x.c[at], `${name}: C's padding at ${at} was overwritten`);
    assert.ok(Number.isNaN(derivative[at]!), `${name}: derivative's padding at ${at} was written`);
  }
}

function checkAll(kernel: GemmEpilogue, what: string): void {
  const rand = seededRandom(7);
  for (const c of CASES) {
    for (const activation of ACTIVATIONS) {
      check(kernel, c, activation, true, true, rand, what);
      check(kernel, c, activation, false, false, rand, what);
    }
    check(kernel, c, "gelu", true, false, rand, what);
    check(kernel, c, "none", false, true, rand, what);
  }
}

test("reference gemmEpilogue is the product, then (+ bias) + residual, then the activation and its derivative", () => {
  checkAll(denseKernels.gemmEpilogue, "reference");
});

test("native gemmEpilogue matches the float64 composition under every ISA, across cache blocks", (t) => {
  const kernel = nativeKernel(t, "gemmEpilogue");
  if (!kernel) return;
  forEachIsa((isa) => checkAll(kernel, isa));
});

test("native gemmEpilogue without a derivative buffer writes C alone, like gemm then the epilogue", (t) => {
  const kernel = nativeKernel(t, "gemmEpilogue");
  const gemm = nativeKernel(t, "gemm");
  if (!kernel || !gemm) return;
  const rand = seededRandom(8);
  const x = inputs(CASES[3]!, true, true, rand);
  const fused = x.c.slice();
  kernel(x.p, x.a, x.b, fused, "gelu", x.bias, x.residual, null);
  const withDerivative = x.c.slice();
  kernel(x.p, x.a, x.b, withDerivative, "gelu", x.bias, x.residual, new Float32Array(x.c.length));
  assert.deepEqual(fused, withDerivative);
});

test("native gemmEpilogue rejects a short bias, residual or derivative, and an unknown activation", (t) => {
  const kernel = nativeKernel(t, "gemmEpilogue");
  if (!kernel) return;
  const x = inputs(CASES[1]!, true, true, seededRandom(9));
  const short = new Float32Array(2);
  assert.throws(() => kernel(x.p, x.a, x.b, x.c, "relu", short, null, null), /gemmEpilogue: bias holds 2 elements/);
  assert.throws(() => kernel(x.p, x.a, x.b, x.c, "relu", null, short, null), /gemmEpilogue: residual holds 2 elements/);
  assert.throws(() => kernel(x.p, x.a, x.b, x.c, "relu", null, null, short), /gemmEpilogue: derivative holds 2 elements/);
  assert.throws(() => kernel(x.p, x.a, x.b, x.c, "swish" as Activation, null, null, null), /activation\) must be an index into ACTIVATIONS/);
});
