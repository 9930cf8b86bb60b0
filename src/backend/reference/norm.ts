// Layer normalisation (per row) and batch normalisation (per channel of NCHW), forward and
// backward. Statistics are computed in float64 with two passes (mean, then squared deviations),
// which is what the native kernels are compared against.
import type { Backend } from "../backend.js";

type NormKernels = Pick<Backend, "layerNorm" | "layerNormBackward" | "batchNorm" | "batchNormBackward">;

export const normKernels: NormKernels = {
  layerNorm(x, gamma, beta, out, mean, rstd, rows, cols, eps) {
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let sum = 0;
      for (let j = 0; j < cols; j++) sum += x[base + j];
      const mu = sum / cols;
      let sq = 0;
      for (let j = 0; j < cols; j++) sq += (x[base + j] - mu) ** 2;
      const rs = 1 / Math.sqrt(sq / cols + eps);
      mean[r] = mu;
      rstd[r] = rs;
      for (let j = 0; j < cols; j++) {
        const xhat = (x[base + j] - mu) * rs;
        out[base + j] = xhat * (gamma ? gamma[j] : 1) + (beta ? beta[j] : 0);
      }
    }
  },

  // With xhat = (x - mean) * rstd and g = gy * gamma:
  //   gx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  ggamma = sum_rows gy * xhat,  gbeta = sum_rows gy.
  layerNormBackward(x, gamma, mean, rstd, gy, gx, ggamma, gbeta, rows, cols) {
    if (ggamma) ggamma.fill(0, 0, cols);
    if (gbeta) gbeta.fill(0, 0, cols);
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      const mu = mean[r];
      const rs = rstd[r];
      let sumG = 0;
      let sumGXhat = 0;
      for (let j = 0; j < cols; j++) {
        const xhat = (x[base + j] - mu) * rs;
        const g = gy[base + j] * (gamma ? gamma[j] : 1);
        sumG += g;
        sumGXhat += g * xhat;
        if (ggamma) ggamma[j] += gy[base + j] * xhat;
        if (gbeta) gbeta[j] += gy[base + j];
      }
      const meanG = sumG / cols;
      const meanGXhat = sumGXhat / cols;
      for (let j = 0; j < cols; j++) {
        const xhat = (x[base + j] - mu) * rs;
        const g = gy[base + j] * (gamma ? gamma[j] : 1);
        gx[base + j] = rs * (g - meanG - xhat * meanGXhat);
      }
    }
  },

  // Training normalises by the biased batch variance but feeds the unbiased one into the running
  // variance, as torch.nn.BatchNorm2d does. Evaluation writes the running statistics it used to
  // mean/invstd too, so that a caller can inspect what was applied.
  batchNorm(x, gamma, beta, out, mean, invstd, runningMean, runningVar, n, c, hw, eps, momentum, training) {
    const count = n * hw;
    for (let ch = 0; ch < c; ch++) {
      let mu: number;
      let is: number;
      if (training) {
        let sum = 0;
        for (let b = 0; b < n; b++) for (let k = 0; k < hw; k++) sum += x[(b * c + ch) * hw + k];
        mu = sum / count;
        let sq = 0;
        for (let b = 0; b < n; b++) for (let k = 0; k < hw; k++) sq += (x[(b * c + ch) * hw + k] - mu) ** 2;
        const variance = sq / count;
        is = 1 / Math.sqrt(variance + eps);
        // One value per channel has no unbiased variance; PyTorch refuses it, here it counts as 0.
        const unbiased = count > 1 ? (sq / (count - 1)) : 0;
        runningMean[ch] = (1 - momentum) * runningMean[ch] + momentum * mu;
        runningVar[ch] = (1 - momentum) * runningVar[ch] + momentum * unbiased;
      } else {
        mu = runningMean[ch];
        is = 1 / Math.sqrt(runningVar[ch] + eps);
      }
      mean[ch] = mu;
      invstd[ch] = is;
      const scale = gamma[ch] * is;
      for (let b = 0; b < n; b++) {
        for (let k = 0; k < hw; k++) {
          const at = (b * c + ch) * hw + k;
          out[at] = (x[at] - mu) * scale + beta[ch];
        }
      }
    }
  },

  // With N = n * hw and xhat = (x - mean) * invstd, per channel:
  //   gbeta = sum gy,  ggamma = sum gy * xhat,  gx = gamma * invstd / N * (N * gy - gbeta - xhat * ggamma).
  batchNormBackward(x, gamma, mean, invstd, gy, gx, ggamma, gbeta, n, c, hw) {
    const count = n * hw;
    for (let ch = 0; ch < c; ch++) {
      const mu = mean[ch];
      const is = invstd[ch];
      let sumGy = 0;
      let sumGyXhat = 0;
      for (let b = 0; b < n; b++) {
        for (let k = 0; k < hw; k++) {
          const at = (b * c + ch) * hw + k;
          sumGy += gy[at];
          sumGyXhat += gy[at] * (x[at] - mu) * is;
        }
      }
      gbeta[ch] = sumGy;
      ggamma[ch] = sumGyXhat;
      const k0 = (gamma[ch] * is) / count;
      for (let b = 0; b < n; b++) {
        for (let k = 0; k < hw; k++) {
          const at = (b * c + ch) * hw + k;
          const xhat = (x[at] - mu) * is;
          gx[at] = k0 * (count * gy[at] - sumGy - xhat * sumGyXhat);
        }
      }
    }
  },
};
