// The breast-cancer recipe's model: one small MLP per cross-validation fold, trained side by side
// in one run (Note [five folds in one run]). MLP k reads features standardised with fold k's
// training statistics and is trained on every row but fold k's, which it is scored on.
//
// Note [five folds in one run]
// k-fold cross-validation trains k models, each without one fold. Rather than k runs of
// `weft train` (and a mean computed outside it), the recipe's model holds all k MLPs and its loss
// is the sum over k of MLP k's mean cross-entropy on the batch's rows outside fold k (fold k's
// rows are masked out with crossEntropy's ignore index). The MLPs share no parameter, so the
// gradient of each MLP's parameters is the gradient of its own term alone: summing the terms
// trains the k models independently, exactly as k separate runs over the same batches with fold
// k's rows left out would (Adam's and AdamW's updates are per parameter). So one `weft train
// breast-cancer` run, under any strategy and on any number of workers, trains every fold's model
// through the same loop, and evaluation scores MLP k on fold k only: every tumour is predicted
// once, by the one model that never saw it.
import { Linear, Module, ReLU, Sequential } from "../nn/index.js";
import { add, affine, argmax, crossEntropy, noGrad, Tensor } from "../tensor/index.js";

/** A batch of raw (unstandardised) rows with their labels and folds. */
export interface FoldBatch {
  /** (n, features) row-major, raw. */
  x: Float32Array;
  y: Int32Array;
  /** The fold of each row (0..folds-1). */
  folds: Int32Array;
  n: number;
}

export interface FoldMlpConfig {
  features: number;
  /** Hidden units of each MLP; 0 makes each a logistic regression (one Linear layer). */
  hidden: number;
  classes: number;
  /** Per fold: the mean and standard deviation of each feature over that fold's training rows. */
  stats: readonly { mean: Float32Array; std: Float32Array }[];
}

/** crossEntropy's ignore index: the rows MLP k must not learn from. */
const IGNORE = -100;

/**
 * k MLPs, MLP k trained without fold k (Note [five folds in one run]).
 *
 * @example Each MLP's loss ignores its own fold's rows
 * ```ts
 * const stats = [0, 1].map(() => ({ mean: new Float32Array(2), std: Float32Array.of(1, 1) }));
 * const model = new FoldMlps({ features: 2, hidden: 0, classes: 2, stats });
 * const batch = { x: Float32Array.of(1, 2, 3, 4), y: Int32Array.of(0, 1), folds: Int32Array.of(0, 1), n: 2 };
 * // MLP 0 learns only from row 1, MLP 1 only from row 0.
 * const terms = [0, 1].map((k) => model.foldLoss(k, batch).item());
 * assert.ok(Math.abs(model.loss(batch).item() - (terms[0] + terms[1])) < 1e-6);
 * assert.equal(model.predict(0, Float32Array.of(1, 2, 3, 4), 2).length, 2);
 * ```
 */
export class FoldMlps extends Module {
  readonly mlps: readonly Sequential[];

  constructor(readonly config: FoldMlpConfig) {
    super();
    const { features, hidden, classes, stats } = config;
    if (stats.length < 2) throw new RangeError(`FoldMlps: ${stats.length} folds: cross-validation needs at least 2`);
    stats.forEach((s, k) => {
      if (s.mean.length !== features || s.std.length !== features) {
        throw new RangeError(`FoldMlps: fold ${k}'s statistics have ${s.mean.length} means and ${s.std.length} deviations for ${features} features`);
      }
    });
    this.mlps = stats.map((_, k) => this.child(`fold${k}`, hidden === 0
      ? new Sequential(new Linear(features, classes))
      : new Sequential(new Linear(features, hidden), new ReLU(), new Linear(hidden, classes))));
  }

  get folds(): number {
    return this.mlps.length;
  }

  /** n raw rows standardised with fold k's training statistics, as an (n, features) tensor. */
  standardised(k: number, x: Float32Array, n: number): Tensor {
    const { features, stats } = this.config;
    const { mean, std } = stats[k]!;
    const out = new Float32Array(n * features);
    for (let i = 0; i < n * features; i++) out[i] = (x[i]! - mean[i % features]!) / std[i % features]!;
    return new Tensor(out, [n, features]);
  }

  /** MLP k's logits (n, classes) on raw rows. */
  logits(k: number, x: Float32Array, n: number): Tensor {
    return this.mlps[k]!.forward(this.standardised(k, x, n));
  }

  /**
   * Logits for new, raw rows x (n, features): the mean of every fold's MLP's logits. Not used in
   * training or cross-validation (each fold's MLP is scored alone there); it is how the k models
   * would classify a tumour none of them has seen.
   */
  forward(x: Tensor): Tensor {
    const n = x.shape[0]!;
    const raw = x.dense();
    let sum = this.logits(0, raw, n);
    for (let k = 1; k < this.folds; k++) sum = add(sum, this.logits(k, raw, n));
    return affine(sum, 1 / this.folds);
  }

  /** MLP k's mean cross-entropy on the batch's rows outside fold k (0 when every row is in fold k). */
  foldLoss(k: number, batch: FoldBatch): Tensor {
    const targets = Int32Array.from(batch.y, (y, i) => (batch.folds[i] === k ? IGNORE : y));
    return crossEntropy(this.logits(k, batch.x, batch.n), targets, IGNORE);
  }

  /** The sum over folds of each MLP's loss (Note [five folds in one run]). */
  loss(batch: FoldBatch): Tensor {
    let total = this.foldLoss(0, batch);
    for (let k = 1; k < this.folds; k++) total = add(total, this.foldLoss(k, batch));
    return total;
  }

  /** MLP k's predicted class for each of n raw rows, in evaluation mode, without gradients. */
  predict(k: number, x: Float32Array, n: number): Int32Array {
    const wasTraining = this.training;
    this.eval();
    const predicted = noGrad(() => argmax(this.logits(k, x, n)));
    this.train(wasTraining);
    return predicted;
  }
}
