// Softmax, log-softmax and cross-entropy over the last axis of (rows, cols), with their gradients.
// Every row is shifted by its maximum before exponentiating, so large logits do not overflow.
import type { Backend } from "../backend.js";

type SoftmaxKernels = Pick<
  Backend,
  "softmax" | "logSoftmax" | "softmaxBackward" | "logSoftmaxBackward" | "crossEntropy" | "crossEntropyBackward"
>;

/** max and log(sum(exp(x - max))) of row r: log-softmax is x - max - logSum. */
function rowLogSumExp(x: Float32Array, r: number, cols: number): { max: number; logSum: number } {
  const base = r * cols;
  let max = -Infinity;
  for (let j = 0; j < cols; j++) max = Math.max(max, x[base + j]);
  let sum = 0;
  for (let j = 0; j < cols; j++) sum += Math.exp(x[base + j] - max);
  return { max, logSum: Math.log(sum) };
}

function softmaxRows(x: Float32Array, out: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const { max, logSum } = rowLogSumExp(x, r, cols);
    for (let j = 0; j < cols; j++) out[r * cols + j] = Math.exp(x[r * cols + j] - max - logSum);
  }
}

export const softmaxKernels: SoftmaxKernels = {
  softmax: softmaxRows,

  logSoftmax(x, out, rows, cols) {
    for (let r = 0; r < rows; r++) {
      const { max, logSum } = rowLogSumExp(x, r, cols);
      for (let j = 0; j < cols; j++) out[r * cols + j] = x[r * cols + j] - max - logSum;
    }
  },

  softmaxBackward(y, gy, gx, rows, cols) {
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let dot = 0;
      for (let j = 0; j < cols; j++) dot += gy[base + j] * y[base + j];
      for (let j = 0; j < cols; j++) gx[base + j] = y[base + j] * (gy[base + j] - dot);
    }
  },

  logSoftmaxBackward(y, gy, gx, rows, cols) {
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let sum = 0;
      for (let j = 0; j < cols; j++) sum += gy[base + j];
      for (let j = 0; j < cols; j++) gx[base + j] = gy[base + j] - Math.exp(y[base + j]) * sum;
    }
  },

  crossEntropy(logits, targets, probs, rows, cols) {
    let total = 0;
    for (let r = 0; r < rows; r++) {
      const { max, logSum } = rowLogSumExp(logits, r, cols);
      for (let j = 0; j < cols; j++) probs[r * cols + j] = Math.exp(logits[r * cols + j] - max - logSum);
      const t = targets[r];
      if (t < 0) continue;
      if (t >= cols) {
        throw new RangeError(
          `crossEntropy: target ${t} of row ${r} is not a class index for ${cols} classes; ` +
            `targets must be in [0, ${cols}) or negative to ignore the row`,
        );
      }
      // -log softmax(x)[t], from the log-sum-exp rather than log(probs), which would underflow.
      total += max + logSum - logits[r * cols + t];
    }
    return total;
  },

  crossEntropyBackward(probs, targets, gx, rows, cols, scale) {
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      const t = targets[r];
      if (t < 0) {
        gx.fill(0, base, base + cols);
        continue;
      }
      for (let j = 0; j < cols; j++) gx[base + j] = scale * (probs[base + j] - (j === t ? 1 : 0));
    }
  },
};
