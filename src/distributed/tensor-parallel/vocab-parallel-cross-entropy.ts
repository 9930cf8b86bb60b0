// Cross-entropy over logits split by vocabulary (Megatron's vocab_parallel_cross_entropy,
// megatron/core/tensor_parallel/cross_entropy.py): rank r holds the logits of its range of the
// vocabulary, and the whole row of logits never exists anywhere. For each row i with target t:
//
//   M_i = max over the whole vocabulary         (each rank's maximum, then the maximum of those)
//   S_i = sum_j exp(l_ij - M_i)                 (each rank's sum over its range, all-reduced)
//   P_i = l_it - M_i                            (from the one rank holding t, all-reduced: 0 elsewhere)
//   loss = mean_i (log S_i - P_i)
//
// Our all-reduce sums (no max), so the maxima travel as an all-gather made of a sum: each rank
// writes its maxima into its own slot of a zeroed buffer, and the sum of one value and zeros is
// that value, exactly. S and P go in one all-reduce. The gradient of the loss with respect to the
// rank's logits is local: (softmax_ij - [j = t]) / rows, softmax_ij = exp(l_ij - M_i) / S_i, so
// backward communicates nothing here (the head's f sums the gradient of its input).
//
// Every rank computes the loss from the same all-reduced numbers in the same order, so it is the
// same value on every rank (Note [replicas stay bitwise equal across the group] in operators.ts).
// Sums are taken in float64; against crossEntropy (tensor/ops/loss.ts) on the whole row the loss
// differs by float rounding only.
import { formatShape, ShapeError } from "../../tensor/shape.js";
import { accumulateGrad, fromOp, type Tensor } from "../../tensor/tensor.js";
import type { TensorParallelComm } from "./operators.js";

/**
 * Mean cross-entropy of `logits` (rows, this rank's vocabulary range [vocabStart, vocabStart +
 * cols)) against the targets (whole-vocabulary ids, one per row); rows whose target is
 * `ignoreIndex` count for nothing, as in crossEntropy.
 */
export function vocabParallelCrossEntropy(logits: Tensor, targets: Int32Array, vocabStart: number, vocab: number, comm: TensorParallelComm, ignoreIndex = -100): Tensor {
  const cols = logits.shape[logits.rank - 1]!;
  const rows = logits.size / cols;
  if (targets.length !== rows) throw new ShapeError(`vocabParallelCrossEntropy: ${targets.length} targets for ${rows} rows of logits ${formatShape(logits.shape)}`);
  const l = logits.dense();
  const { rank, size } = comm;
  // M: every rank's row maxima gathered through a sum, then the largest.
  const maxima = new Float32Array(rows * size);
  for (let i = 0; i < rows; i++) {
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, l[i * cols + j]!);
    maxima[rank * rows + i] = m;
  }
  comm.allReduce(maxima);
  const shift = new Float32Array(rows).fill(-Infinity);
  for (let r = 0; r < size; r++) for (let i = 0; i < rows; i++) shift[i] = Math.max(shift[i]!, maxima[r * rows + i]!);
  // S and P in one all-reduce; probs keeps exp(l - M) for backward (divided by S below).
  const sp = new Float32Array(2 * rows);
  const probs = new Float32Array(l.length);
  let count = 0;
  for (let i = 0; i < rows; i++) {
    const t = targets[i]!;
    if (t === ignoreIndex) continue;
    if (!(Number.isInteger(t) && t >= 0 && t < vocab)) throw new RangeError(`vocabParallelCrossEntropy: target ${t} at row ${i} is not a class index in [0, ${vocab})`);
    count++;
    let s = 0;
    for (let j = 0; j < cols; j++) {
      const e = Math.exp(l[i * cols + j]! - shift[i]!);
      probs[i * cols + j] = e;
      s += e;
    }
    sp[i] = s;
    if (t >= vocabStart && t < vocabStart + cols) sp[rows + i] = l[i * cols + t - vocabStart]! - shift[i]!;
  }
  comm.allReduce(sp);
  let total = 0;
  for (let i = 0; i < rows; i++) {
    if (targets[i] === ignoreIndex) continue;
    total += Math.log(sp[i]!) - sp[rows + i]!;
    const inv = 1 / sp[i]!;
    for (let j = 0; j < cols; j++) probs[i * cols + j]! *= inv;
  }
  const value = count > 0 ? total / count : 0;
  return fromOp("vocabParallelCrossEntropy", new Float32Array([value]), [], [logits], (g) => {
    const scale = count > 0 ? g[0]! / count : 0;
    const gx = new Float32Array(l.length);
    for (let i = 0; i < rows; i++) {
      const t = targets[i]!;
      if (t === ignoreIndex) continue;
      for (let j = 0; j < cols; j++) gx[i * cols + j] = probs[i * cols + j]! * scale;
      if (t >= vocabStart && t < vocabStart + cols) gx[i * cols + t - vocabStart]! -= scale;
    }
    accumulateGrad(logits, gx, true);
  });
}
