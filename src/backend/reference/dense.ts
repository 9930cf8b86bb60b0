// Reference GEMM, convolution and pooling: the plain definitions the native kernels are tested
// against. Every loop is the textbook formula, written for a reader rather than for speed;
// sums accumulate in float64 (JavaScript numbers) and are rounded to float32 once, on store.
import type { Backend, Conv2dParams, GemmParams, Pool2dParams } from "../backend.js";
import { outputSize } from "../backend.js";

type DenseKernels = Pick<
  Backend,
  | "gemm"
  | "conv2d"
  | "conv2dBackwardInput"
  | "conv2dBackwardWeight"
  | "maxPool2d"
  | "maxPool2dBackward"
  | "avgPool2d"
  | "avgPool2dBackward"
>;

/** C_b = alpha * op(A_b) * op(B_b) + beta * C_b for each batch entry b (see GemmParams). */
function gemm(p: GemmParams, a: Float32Array, b: Float32Array, c: Float32Array): void {
  const { m, n, k, lda, ldb, ldc, alpha, beta } = p;
  for (let bi = 0; bi < p.batch; bi++) {
    const aBase = p.offsetA + bi * p.strideA;
    const bBase = p.offsetB + bi * p.strideB;
    const cBase = p.offsetC + bi * p.strideC;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let l = 0; l < k; l++) {
          const aij = p.transA ? a[aBase + l * lda + i] : a[aBase + i * lda + l];
          const blj = p.transB ? b[bBase + j * ldb + l] : b[bBase + l * ldb + j];
          sum += aij * blj;
        }
        const at = cBase + i * ldc + j;
        // beta == 0 must not read C: it may hold NaN or garbage from a reused buffer.
        c[at] = beta === 0 ? alpha * sum : alpha * sum + beta * c[at];
      }
    }
  }
}

/** The output height and width of a convolution or pooling window. */
function outSize(p: { h: number; w: number; kh: number; kw: number; strideH: number; strideW: number; padH: number; padW: number }): [number, number] {
  return [outputSize(p.h, p.kh, p.strideH, p.padH), outputSize(p.w, p.kw, p.strideW, p.padW)];
}

/** out[b, o, y, x] = bias[o] + sum over (ch, i, j) of x[b, ch, y*sh - ph + i, x*sw - pw + j] * w[o, ch, i, j]. */
function conv2d(p: Conv2dParams, x: Float32Array, weight: Float32Array, bias: Float32Array | null, out: Float32Array): void {
  const [oh, ow] = outSize(p);
  for (let b = 0; b < p.n; b++) {
    for (let o = 0; o < p.oc; o++) {
      for (let y = 0; y < oh; y++) {
        for (let xo = 0; xo < ow; xo++) {
          let sum = bias ? bias[o] : 0;
          for (let ch = 0; ch < p.c; ch++) {
            for (let i = 0; i < p.kh; i++) {
              const iy = y * p.strideH - p.padH + i;
              if (iy < 0 || iy >= p.h) continue;
              for (let j = 0; j < p.kw; j++) {
                const ix = xo * p.strideW - p.padW + j;
                if (ix < 0 || ix >= p.w) continue;
                sum += x[((b * p.c + ch) * p.h + iy) * p.w + ix] * weight[((o * p.c + ch) * p.kh + i) * p.kw + j];
              }
            }
          }
          out[((b * p.oc + o) * oh + y) * ow + xo] = sum;
        }
      }
    }
  }
}

/** gx[b, ch, iy, ix] = sum over every (o, y, x, i, j) that read x[b, ch, iy, ix] of gy[b, o, y, x] * w[o, ch, i, j]. */
function conv2dBackwardInput(p: Conv2dParams, gy: Float32Array, weight: Float32Array, gx: Float32Array): void {
  const [oh, ow] = outSize(p);
  // Scatter in float64, then store: the sum for one input pixel gathers from many outputs.
  const acc = new Float64Array(p.n * p.c * p.h * p.w);
  for (let b = 0; b < p.n; b++) {
    for (let o = 0; o < p.oc; o++) {
      for (let y = 0; y < oh; y++) {
        for (let xo = 0; xo < ow; xo++) {
          const g = gy[((b * p.oc + o) * oh + y) * ow + xo];
          for (let ch = 0; ch < p.c; ch++) {
            for (let i = 0; i < p.kh; i++) {
              const iy = y * p.strideH - p.padH + i;
              if (iy < 0 || iy >= p.h) continue;
              for (let j = 0; j < p.kw; j++) {
                const ix = xo * p.strideW - p.padW + j;
                if (ix < 0 || ix >= p.w) continue;
                acc[((b * p.c + ch) * p.h + iy) * p.w + ix] += g * weight[((o * p.c + ch) * p.kh + i) * p.kw + j];
              }
            }
          }
        }
      }
    }
  }
  gx.set(acc);
}

/** gw[o, ch, i, j] = sum over (b, y, x) of gy[b, o, y, x] * x[b, ch, y*sh - ph + i, x*sw - pw + j]; gb[o] = sum of gy[:, o]. */
function conv2dBackwardWeight(p: Conv2dParams, x: Float32Array, gy: Float32Array, gw: Float32Array, gb: Float32Array | null): void {
  const [oh, ow] = outSize(p);
  for (let o = 0; o < p.oc; o++) {
    for (let ch = 0; ch < p.c; ch++) {
      for (let i = 0; i < p.kh; i++) {
        for (let j = 0; j < p.kw; j++) {
          let sum = 0;
          for (let b = 0; b < p.n; b++) {
            for (let y = 0; y < oh; y++) {
              const iy = y * p.strideH - p.padH + i;
              if (iy < 0 || iy >= p.h) continue;
              for (let xo = 0; xo < ow; xo++) {
                const ix = xo * p.strideW - p.padW + j;
                if (ix < 0 || ix >= p.w) continue;
                sum += gy[((b * p.oc + o) * oh + y) * ow + xo] * x[((b * p.c + ch) * p.h + iy) * p.w + ix];
              }
            }
          }
          gw[((o * p.c + ch) * p.kh + i) * p.kw + j] = sum;
        }
      }
    }
    if (gb) {
      let sum = 0;
      for (let b = 0; b < p.n; b++) {
        for (let q = 0; q < oh * ow; q++) sum += gy[(b * p.oc + o) * oh * ow + q];
      }
      gb[o] = sum;
    }
  }
}

/**
 * out = max of each window; argmax = the flat (iy * w + ix) index of that max in its plane.
 * Padding never wins (it counts as -inf). A NaN in the window wins, as in PyTorch, so a
 * NaN upstream is never hidden; a window lying wholly in the padding gives -inf and argmax -1.
 */
function maxPool2d(p: Pool2dParams, x: Float32Array, out: Float32Array, argmax: Int32Array): void {
  const [oh, ow] = outSize(p);
  for (let plane = 0; plane < p.n * p.c; plane++) {
    const xBase = plane * p.h * p.w;
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++) {
        let best = -Infinity;
        let where = -1;
        for (let i = 0; i < p.kh; i++) {
          const iy = y * p.strideH - p.padH + i;
          if (iy < 0 || iy >= p.h) continue;
          for (let j = 0; j < p.kw; j++) {
            const ix = xo * p.strideW - p.padW + j;
            if (ix < 0 || ix >= p.w) continue;
            const v = x[xBase + iy * p.w + ix];
            if (v > best || Number.isNaN(v) || where < 0) {
              best = v;
              where = iy * p.w + ix;
            }
          }
        }
        out[(plane * oh + y) * ow + xo] = best;
        argmax[(plane * oh + y) * ow + xo] = where;
      }
    }
  }
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

/** The rows (or columns) of one window that lie inside the input: [start, end). */
function windowRange(o: number, stride: number, pad: number, kernel: number, size: number): [number, number] {
  const start = o * stride - pad;
  return [Math.max(start, 0), Math.min(start + kernel, size)];
}

/** out = mean of each window over the elements inside the input (padding is not counted). */
function avgPool2d(p: Pool2dParams, x: Float32Array, out: Float32Array): void {
  const [oh, ow] = outSize(p);
  for (let plane = 0; plane < p.n * p.c; plane++) {
    const xBase = plane * p.h * p.w;
    for (let y = 0; y < oh; y++) {
      const [y0, y1] = windowRange(y, p.strideH, p.padH, p.kh, p.h);
      for (let xo = 0; xo < ow; xo++) {
        const [x0, x1] = windowRange(xo, p.strideW, p.padW, p.kw, p.w);
        let sum = 0;
        for (let iy = y0; iy < y1; iy++) for (let ix = x0; ix < x1; ix++) sum += x[xBase + iy * p.w + ix];
        const count = Math.max(y1 - y0, 0) * Math.max(x1 - x0, 0);
        out[(plane * oh + y) * ow + xo] = count > 0 ? sum / count : 0;
      }
    }
  }
}

/** Each output's gradient is shared equally among the input elements its window averaged. */
function avgPool2dBackward(p: Pool2dParams, gy: Float32Array, gx: Float32Array): void {
  const [oh, ow] = outSize(p);
  const planeSize = p.h * p.w;
  const acc = new Float64Array(p.n * p.c * planeSize);
  for (let plane = 0; plane < p.n * p.c; plane++) {
    for (let y = 0; y < oh; y++) {
      const [y0, y1] = windowRange(y, p.strideH, p.padH, p.kh, p.h);
      for (let xo = 0; xo < ow; xo++) {
        const [x0, x1] = windowRange(xo, p.strideW, p.padW, p.kw, p.w);
        const count = Math.max(y1 - y0, 0) * Math.max(x1 - x0, 0);
        if (count === 0) continue;
        const share = gy[(plane * oh + y) * ow + xo] / count;
        for (let iy = y0; iy < y1; iy++) for (let ix = x0; ix < x1; ix++) acc[plane * planeSize + iy * p.w + ix] += share;
      }
    }
  }
  gx.set(acc);
}

export const denseKernels: DenseKernels = {
  gemm,
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  maxPool2d,
  maxPool2dBackward,
  avgPool2d,
  avgPool2dBackward,
};
