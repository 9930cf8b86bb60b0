// Reference GEMM, convolution and pooling: the plain definitions the native kernels are tested
// against. Every loop is the textbook formula, written for a reader rather than for speed;
// sums accumulate in float64 (JavaScript numbers) and are rounded to float32 once, on store.
import type { Activation, Backend, Conv2dParams, GemmParams, Pool2dParams } from "../backend.js";
import { outputSize } from "../backend.js";
import { roundToBf16 } from "./bf16-round.js";
import { UNARY_DERIVATIVE, UNARY_FORWARD } from "./elementwise.js";

type DenseKernels = Pick<
  Backend,
  | "gemm"
  | "gemmEpilogue"
  | "conv2d"
  | "conv2dBackwardInput"
  | "conv2dBackwardWeight"
  | "maxPool2d"
  | "maxPool2dBackward"
  | "avgPool2d"
  | "avgPool2dBackward"
>;

const exact = (x: number): number => x;

/** C_b = alpha * op(A_b) * op(B_b) + beta * C_b for each batch entry b (see GemmParams). */
function gemm(p: GemmParams, a: Float32Array, b: Float32Array, c: Float32Array): void {
  const { m, n, k, lda, ldb, ldc, alpha, beta } = p;
  // With bf16, each element is rounded to bf16 as it is read; the sum stays float64 here.
  const read = p.bf16 === true ? roundToBf16 : exact;
  for (let bi = 0; bi < p.batch; bi++) {
    const aBase = p.offsetA + bi * p.strideA;
    const bBase = p.offsetB + bi * p.strideB;
    const cBase = p.offsetC + bi * p.strideC;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let l = 0; l < k; l++) {
          const aij = read(p.transA ? a[aBase + l * lda + i]! : a[aBase + i * lda + l]!);
          const blj = read(p.transB ? b[bBase + j * ldb + l]! : b[bBase + l * ldb + j]!);
          sum += aij * blj;
        }
        const at = cBase + i * ldc + j;
        // beta == 0 must not read C: it may hold NaN or garbage from a reused buffer.
        c[at] = beta === 0 ? alpha * sum : alpha * sum + beta * c[at];
      }
    }
  }
}

const ACTIVATE: Record<Activation, { f: (v: number) => number; df: (v: number) => number }> = {
  none: { f: (v) => v, df: () => 1 },
  relu: { f: UNARY_FORWARD.relu, df: (v) => UNARY_DERIVATIVE.relu(v, 0) },
  gelu: { f: UNARY_FORWARD.gelu, df: (v) => UNARY_DERIVATIVE.gelu(v, 0) },
};

/** gemm, then v = (C + bias[j]) + residual; C = act(v); derivative = act'(v) (see Backend.gemmEpilogue). */
function gemmEpilogue(
  p: GemmParams, a: Float32Array, b: Float32Array, c: Float32Array,
  activation: Activation, bias: Float32Array | null, residual: Float32Array | null, derivative: Float32Array | null,
): void {
  gemm(p, a, b, c);
  const { f, df } = ACTIVATE[activation];
  for (let bi = 0; bi < p.batch; bi++) {
    for (let i = 0; i < p.m; i++) {
      for (let j = 0; j < p.n; j++) {
        const at = p.offsetC + bi * p.strideC + i * p.ldc + j;
        // Each add rounded to float32, as the separate add kernels would store it.
        const v = Math.fround(Math.fround(c[at]! + (bias ? bias[j]! : 0)) + (residual ? residual[at]! : 0));
        c[at] = f(v);
        if (derivative) derivative[at] = df(v);
      }
    }
  }
}

/** The output height and width of a convolution or pooling window. */
function outSize(p: { h: number; w: number; kh: number; kw: number; strideH: number; strideW: number; padH: number; padW: number }): [number, number] {
  return [outputSize(p.h, p.kh, p.strideH, p.padH), outputSize(p.w, p.kw, p.strideW, p.padW)];
}

/**
 * The convolution's one definition: calls visit(outIndex, inIndex, weightIndex) for every product
 * out[b, o, y, x] += x[b, ch, y*sh - ph + i, x*sw - pw + j] * w[o, ch, i, j] whose input lies
 * inside the image (the padding contributes nothing). The three passes below are this relation
 * read three ways.
 */
function forEachProduct(p: Conv2dParams, visit: (outIndex: number, inIndex: number, weightIndex: number) => void): void {
  const [oh, ow] = outSize(p);
  for (let b = 0; b < p.n; b++) {
    for (let o = 0; o < p.oc; o++) {
      for (let y = 0; y < oh; y++) {
        for (let xo = 0; xo < ow; xo++) {
          const outIndex = ((b * p.oc + o) * oh + y) * ow + xo;
          for (let ch = 0; ch < p.c; ch++) {
            for (let i = 0; i < p.kh; i++) {
              const iy = y * p.strideH - p.padH + i;
              if (iy < 0 || iy >= p.h) continue;
              for (let j = 0; j < p.kw; j++) {
                const ix = xo * p.strideW - p.padW + j;
                if (ix < 0 || ix >= p.w) continue;
                visit(outIndex, ((b * p.c + ch) * p.h + iy) * p.w + ix, ((o * p.c + ch) * p.kh + i) * p.kw + j);
              }
            }
          }
        }
      }
    }
  }
}

/** out[b, o, y, x] = bias[o] + sum of its products. */
function conv2d(p: Conv2dParams, x: Float32Array, weight: Float32Array, bias: Float32Array | null, out: Float32Array): void {
  const [oh, ow] = outSize(p);
  const acc = new Float64Array(p.n * p.oc * oh * ow);
  if (bias) for (let q = 0; q < acc.length; q++) acc[q] = bias[Math.floor(q / (oh * ow)) % p.oc];
  forEachProduct(p, (o, i, w) => (acc[o] += x[i] * weight[w]));
  out.set(acc);
}

/** gx[b, ch, iy, ix] = sum over the products that read x[b, ch, iy, ix] of gy[out] * w. */
function conv2dBackwardInput(p: Conv2dParams, gy: Float32Array, weight: Float32Array, gx: Float32Array): void {
  const acc = new Float64Array(p.n * p.c * p.h * p.w);
  forEachProduct(p, (o, i, w) => (acc[i] += gy[o] * weight[w]));
  gx.set(acc);
}

/** gw[o, ch, i, j] = sum over the products that use it of gy[out] * x[in]; gb[o] = sum of gy[:, o]. */
function conv2dBackwardWeight(p: Conv2dParams, x: Float32Array, gy: Float32Array, gw: Float32Array, gb: Float32Array | null): void {
  const acc = new Float64Array(p.oc * p.c * p.kh * p.kw);
  forEachProduct(p, (o, i, w) => (acc[w] += gy[o] * x[i]));
  gw.set(acc);
  if (gb) {
    const [oh, ow] = outSize(p);
    const sums = new Float64Array(p.oc);
    for (let q = 0; q < p.n * p.oc * oh * ow; q++) sums[Math.floor(q / (oh * ow)) % p.oc] += gy[q];
    gb.set(sums);
  }
}

/**
 * Calls visit(outIndex, inside, planeStart) for every pooling window, where `inside` lists, in
 * row-major order, the flat indices into x of the window's elements that lie inside the input
 * (padding holds no elements) and planeStart is the index of its plane's first element.
 */
function forEachWindow(p: Pool2dParams, visit: (outIndex: number, inside: number[], planeStart: number) => void): void {
  const [oh, ow] = outSize(p);
  for (let plane = 0; plane < p.n * p.c; plane++) {
    const planeStart = plane * p.h * p.w;
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++) {
        const inside: number[] = [];
        for (let i = 0; i < p.kh; i++) {
          const iy = y * p.strideH - p.padH + i;
          if (iy < 0 || iy >= p.h) continue;
          for (let j = 0; j < p.kw; j++) {
            const ix = xo * p.strideW - p.padW + j;
            if (ix >= 0 && ix < p.w) inside.push(planeStart + iy * p.w + ix);
          }
        }
        visit((plane * oh + y) * ow + xo, inside, planeStart);
      }
    }
  }
}

/**
 * out = max of each window; argmax = the flat (iy * w + ix) index of that max in its plane.
 * Padding never wins. A NaN in the window wins, as in PyTorch, so a NaN upstream is never
 * hidden; ties keep the first in row-major order; a window wholly in the padding gives -inf and
 * argmax -1.
 */
function maxPool2d(p: Pool2dParams, x: Float32Array, out: Float32Array, argmax: Int32Array): void {
  forEachWindow(p, (q, inside, planeStart) => {
    let best = -Infinity;
    let where = -1;
    for (const at of inside) {
      const v = x[at];
      if (where < 0 || v > best || Number.isNaN(v)) {
        best = v;
        where = at - planeStart;
      }
    }
    out[q] = best;
    argmax[q] = where;
  });
}

/** gx[plane, argmax] += gy for every output of the plane; every other gx is 0. */
function maxPool2dBackward(p: Pool2dParams, gy: Float32Array, argmax: Int32Array, gx: Float32Array): void {
  const [oh, ow] = outSize(p);
  const planeSize = p.h * p.w;
  const acc = new Float64Array(p.n * p.c * planeSize);
  for (let plane = 0; plane < p.n * p.c; plane++) {
    for (let q = 0; q < oh * ow; q++) {
      const where = argmax[plane * oh * ow + q];
      if (where >= 0) acc[plane * planeSize + where] += gy[plane * oh * ow + q];
    }
  }
  gx.set(acc);
}

/** out = mean of each window over its elements inside the input (padding is not counted). */
function avgPool2d(p: Pool2dParams, x: Float32Array, out: Float32Array): void {
  forEachWindow(p, (q, inside) => {
    let sum = 0;
    for (const at of inside) sum += x[at];
    out[q] = inside.length > 0 ? sum / inside.length : 0;
  });
}

/** Each output's gradient is shared equally among the input elements its window averaged. */
function avgPool2dBackward(p: Pool2dParams, gy: Float32Array, gx: Float32Array): void {
  const acc = new Float64Array(p.n * p.c * p.h * p.w);
  forEachWindow(p, (q, inside) => {
    for (const at of inside) acc[at] += gy[q] / inside.length;
  });
  gx.set(acc);
}

export const denseKernels: DenseKernels = {
  gemm,
  gemmEpilogue,
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  maxPool2d,
  maxPool2dBackward,
  avgPool2d,
  avgPool2dBackward,
};
