// Element-wise kernels of the reference backend: unary functions and their gradients, broadcasting
// binary operations, strided copies and accumulations, and the small vector helpers autograd and
// the optimizers use. Arithmetic is float64, rounded to float32 once when stored.
import type { Backend, BinaryOp, UnaryOp } from "../backend.js";
import { erfc } from "./erf.js";
import { forEachStrided, forEachStrided2 } from "./strided.js";

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 0.3989422804014327;

/**
 * Φ(x) = (1 + erf(x/√2)) / 2, computed as erfc(-x/√2) / 2 so that the left tail keeps its
 * relative precision (1 + erf(z) for z << 0 would cancel to a few digits).
 */
function normalCdf(x: number): number {
  return 0.5 * erfc(-x * SQRT1_2);
}

/** The unary functions, each f(x). */
export const UNARY_FORWARD: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  abs: Math.abs,
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  // NaN stays NaN (a diverged activation must stay visible to hasNonFinite).
  relu: (x) => (x > 0 ? x : x <= 0 ? 0 : x),
  // Exact GELU, PyTorch's default: x · Φ(x) with Φ the standard normal CDF.
  gelu: (x) => x * normalCdf(x),
  square: (x) => x * x,
  reciprocal: (x) => 1 / x,
};

/** Each f'(x), given x and y = f(x), whichever makes the formula simpler. */
export const UNARY_DERIVATIVE: Record<UnaryOp, (x: number, y: number) => number> = {
  neg: () => -1,
  exp: (_x, y) => y,
  log: (x) => 1 / x,
  sqrt: (_x, y) => 0.5 / y,
  rsqrt: (_x, y) => -0.5 * y * y * y,
  abs: (x) => Math.sign(x),
  tanh: (_x, y) => 1 - y * y,
  sigmoid: (_x, y) => y * (1 - y),
  // Subgradient 0 at x == 0, as PyTorch.
  relu: (x) => (x > 0 ? 1 : 0),
  // d/dx x·Φ(x) = Φ(x) + x·φ(x).
  gelu: (x) => normalCdf(x) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x),
  square: (x) => 2 * x,
  reciprocal: (_x, y) => -y * y,
};

/** The binary operations, each a op b. max and min return NaN if either side is NaN (as PyTorch). */
export const BINARY_FORWARD: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  max: Math.max,
  min: Math.min,
  pow: Math.pow,
};

type ElementwiseKernels = Pick<
  Backend,
  "unary" | "unaryBackward" | "binary" | "affine" | "copyStrided" | "accumulateStrided" | "fill" | "axpy" |
  "sumSquares" | "hasNonFinite"
>;

export const elementwiseKernels: ElementwiseKernels = {
  unary(op, x, xOffset, out, n) {
    const f = UNARY_FORWARD[op];
    for (let i = 0; i < n; i++) out[i] = f(x[xOffset + i]);
  },

  unaryBackward(op, x, y, gy, gx, n) {
    const df = UNARY_DERIVATIVE[op];
    for (let i = 0; i < n; i++) gx[i] = gy[i] * df(x[i], y[i]);
  },

  binary(op, a, aOffset, aStrides, b, bOffset, bStrides, out, shape) {
    const f = BINARY_FORWARD[op];
    forEachStrided2(shape, aOffset, aStrides, bOffset, bStrides, (i, ia, ib) => {
      out[i] = f(a[ia], b[ib]);
    });
  },

  affine(x, out, n, alpha, beta) {
    for (let i = 0; i < n; i++) out[i] = alpha * x[i] + beta;
  },

  copyStrided(x, xOffset, xStrides, out, shape) {
    forEachStrided(shape, xOffset, xStrides, (i, at) => {
      out[i] = x[at];
    });
  },

  accumulateStrided(src, shape, dst, dstOffset, dstStrides) {
    forEachStrided(shape, dstOffset, dstStrides, (i, at) => {
      dst[at] += src[i];
    });
  },

  fill(x, offset, n, value) {
    x.fill(value, offset, offset + n);
  },

  axpy(alpha, x, y, n) {
    for (let i = 0; i < n; i++) y[i] += alpha * x[i];
  },

  sumSquares(x, n) {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[i] * x[i];
    return s;
  },

  hasNonFinite(x, n) {
    for (let i = 0; i < n; i++) if (!Number.isFinite(x[i])) return true;
    return false;
  },
};
