// Layer normalisation (over the last axis) and batch normalisation (per channel of (N, C, ...)).
import { backend } from "../../backend/index.js";
import { formatShape, ShapeError, sizeOf } from "../shape.js";
import { accumulateGrad, fromOp, Tensor } from "../tensor.js";
import { uninitialized } from "../storage.js";

/** Normalises each row over the last axis, then scales by gamma and shifts by beta (both [cols], optional). */
export function layerNorm(x: Tensor, gamma: Tensor | null, beta: Tensor | null, eps = 1e-5): Tensor {
  const cols = x.shape[x.rank - 1]!;
  for (const [name, p] of [["gamma", gamma], ["beta", beta]] as const) {
    if (p && (p.rank !== 1 || p.size !== cols)) throw new ShapeError(`layerNorm: ${name} ${formatShape(p.shape)} should be [${cols}]`);
  }
  const rows = x.size / cols;
  const xd = x.dense();
  const gd = gamma ? gamma.dense() : null;
  const out = uninitialized(x.size);
  const mean = uninitialized(rows), rstd = uninitialized(rows);
  backend().layerNorm(xd, gd, beta ? beta.dense() : null, out, mean, rstd, rows, cols, eps);
  const inputs = [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
  return fromOp("layerNorm", out, x.shape, inputs, (g) => {
    const gx = uninitialized(x.size);
    const gg = gamma ? uninitialized(cols) : null, gb = beta ? uninitialized(cols) : null;
    backend().layerNormBackward(xd, gd, mean, rstd, g, gx, gg, gb, rows, cols);
    accumulateGrad(x, gx, true);
    if (gamma && gg) accumulateGrad(gamma, gg, true);
    if (beta && gb) accumulateGrad(beta, gb, true);
  });
}

export interface BatchNormState {
  runningMean: Float32Array;
  runningVar: Float32Array;
  momentum: number;
  eps: number;
  training: boolean;
}

/** x (N, C, ...) normalised per channel; in training, with the batch's statistics (updating the running ones). */
export function batchNorm(x: Tensor, gamma: Tensor, beta: Tensor, s: BatchNormState): Tensor {
  if (x.rank < 2) throw new ShapeError(`batchNorm: expected (N, C, ...), got ${formatShape(x.shape)}`);
  const [n, c] = x.shape as [number, number];
  if (gamma.size !== c || beta.size !== c || s.runningMean.length !== c) {
    throw new ShapeError(`batchNorm: input has ${c} channels but the layer was built for ${gamma.size}`);
  }
  if (s.training && x.size / c <= 1) throw new ShapeError(`batchNorm: training needs more than one value per channel, got ${formatShape(x.shape)}`);
  const hw = sizeOf(x.shape.slice(2));
  const xd = x.dense(), gd = gamma.dense();
  const out = uninitialized(x.size);
  const mean = uninitialized(c), invstd = uninitialized(c);
  backend().batchNorm(xd, gd, beta.dense(), out, mean, invstd, s.runningMean, s.runningVar, n, c, hw, s.eps, s.momentum, s.training);
  return fromOp("batchNorm", out, x.shape, [x, gamma, beta], (g) => {
    if (!s.training) throw new Error("batchNorm: backward in evaluation mode is not supported; call model.train() before training");
    const gx = uninitialized(x.size), gg = uninitialized(c), gb = uninitialized(c);
    backend().batchNormBackward(xd, gd, mean, invstd, g, gx, gg, gb, n, c, hw);
    accumulateGrad(x, gx, true);
    accumulateGrad(gamma, gg, true);
    accumulateGrad(beta, gb, true);
  });
}
