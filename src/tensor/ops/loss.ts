// Loss functions, each returning a scalar mean over the batch.
import { backend } from "../../backend/index.js";
import { formatShape, sameShape, ShapeError } from "../shape.js";
import { accumulateGrad, fromOp, Tensor } from "../tensor.js";
import { abs, add, affine, exp, log, mul, relu, sub, square } from "./elementwise.js";
import { mean } from "./reduce.js";
import { uninitialized } from "../storage.js";

/**
 * Mean cross-entropy of logits (..., classes) against integer class targets (one per row).
 * Rows whose target is `ignoreIndex` (default -100, as in PyTorch) count for nothing.
 */
export function crossEntropy(logits: Tensor, targets: Int32Array, ignoreIndex = -100): Tensor {
  const cols = logits.shape[logits.rank - 1]!;
  const rows = logits.size / cols;
  if (targets.length !== rows) {
    throw new ShapeError(`crossEntropy: ${targets.length} targets for ${rows} rows of logits ${formatShape(logits.shape)}`);
  }
  let kept = targets;
  let count = rows;
  for (let r = 0; r < rows; r++) {
    const t = targets[r]!;
    if (t === ignoreIndex) {
      if (kept === targets) kept = targets.slice();
      kept[r] = -1;
      count--;
    } else if (t < 0 || t >= cols || !Number.isInteger(t)) {
      throw new RangeError(`crossEntropy: target ${t} at row ${r} is not a class index in [0, ${cols})`);
    }
  }
  const probs = uninitialized(logits.size);
  const total = backend().crossEntropy(logits.dense(), kept, probs, rows, cols);
  const value = count > 0 ? total / count : 0;
  return fromOp("crossEntropy", new Float32Array([value]), [], [logits], (g) => {
    const gx = uninitialized(logits.size);
    backend().crossEntropyBackward(probs, kept, gx, rows, cols, count > 0 ? g[0]! / count : 0);
    accumulateGrad(logits, gx, true);
  });
}

function checkSame(op: string, a: Tensor, b: Tensor): void {
  if (!sameShape(a.shape, b.shape)) throw new ShapeError(`${op}: prediction ${formatShape(a.shape)} and target ${formatShape(b.shape)} differ`);
}

/** Mean squared error. */
export function mseLoss(prediction: Tensor, target: Tensor): Tensor {
  checkSame("mseLoss", prediction, target);
  return mean(square(sub(prediction, target)));
}

/**
 * Binary cross-entropy on logits, in the overflow-free form
 * max(x, 0) - x * y + log(1 + exp(-|x|)).
 */
export function bceWithLogits(logits: Tensor, target: Tensor): Tensor {
  checkSame("bceWithLogits", logits, target);
  const softplus = log(affine(exp(affine(abs(logits), -1)), 1, 1));
  return mean(add(sub(relu(logits), mul(logits, target)), softplus));
}
