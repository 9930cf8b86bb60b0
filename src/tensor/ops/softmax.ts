// softmax and log-softmax over one axis. The kernels work on the last axis of a (rows, cols)
// matrix; another axis is moved last, and moved back afterwards.
import { backend } from "../../backend/index.js";
import { normalizeAxis } from "../shape.js";
import { accumulateGrad, fromOp, Tensor } from "../tensor.js";
import { transpose } from "./shape-ops.js";
import { uninitialized } from "../storage.js";

function lastAxis(kind: "softmax" | "logSoftmax", x: Tensor): Tensor {
  const cols = x.shape[x.rank - 1]!;
  const rows = x.size / cols;
  const out = uninitialized(x.size);
  backend()[kind](x.dense(), out, rows, cols);
  return fromOp(kind, out, x.shape, [x], (g) => {
    const gx = uninitialized(x.size);
    if (kind === "softmax") backend().softmaxBackward(out, g, gx, rows, cols);
    else backend().logSoftmaxBackward(out, g, gx, rows, cols);
    accumulateGrad(x, gx, true);
  });
}

function alongAxis(kind: "softmax" | "logSoftmax", x: Tensor, axis: number): Tensor {
  const a = normalizeAxis(kind, axis, x.rank);
  if (a === x.rank - 1) return lastAxis(kind, x);
  return transpose(lastAxis(kind, transpose(x, a, -1)), a, -1);
}

export const softmax = (x: Tensor, axis = -1): Tensor => alongAxis("softmax", x, axis);
export const logSoftmax = (x: Tensor, axis = -1): Tensor => alongAxis("logSoftmax", x, axis);
