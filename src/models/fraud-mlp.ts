// FraudMlp: the fraud recipe's network, an MLP over engineered numeric features and learned
// embeddings of categorical ones (the merchant's category, the hour of the day), in the manner of
// the wide-and-deep and DLRM-style tabular models:
//
//   numeric (B, F) ++ embed_1(cat_1) (B, e) ++ ... -> Linear -> ReLU -> Linear -> ReLU -> Linear (B, 2)
//
// The embeddings let the network learn which categories and hours go with which amounts and
// paces, interactions a logistic regression on the same inputs cannot express.
import { Embedding, Linear, Module } from "../nn/index.js";
import { concat, relu, Tensor } from "../tensor/index.js";
import { formatShape, ShapeError } from "../tensor/shape.js";

/** A batch of samples: numeric features, categorical ids, labels (0 or 1). */
export interface TabularBatch {
  /** (batch, features) */
  numeric: Float32Array;
  /** (batch, categorical count) */
  categorical: Int32Array;
  labels: Int32Array;
  batch: number;
}

export interface FraudMlpConfig {
  features: number;
  /** Distinct values of each categorical input. */
  categoricalSizes: readonly number[];
  /** Width of each categorical embedding. */
  embedDim: number;
  hidden: number;
}

export class FraudMlp extends Module {
  readonly embeddings: Embedding[];
  readonly layer1: Linear;
  readonly layer2: Linear;
  readonly out: Linear;

  constructor(readonly config: FraudMlpConfig) {
    super();
    const { features, categoricalSizes, embedDim, hidden } = config;
    this.embeddings = categoricalSizes.map((n, k) => this.child(`embed.${k}`, new Embedding(n, embedDim)));
    this.layer1 = this.child("layer1", new Linear(features + embedDim * categoricalSizes.length, hidden));
    this.layer2 = this.child("layer2", new Linear(hidden, hidden));
    this.out = this.child("out", new Linear(hidden, 2));
  }

  /** Logits (batch, 2): legitimate, fraud. */
  logits(b: TabularBatch): Tensor {
    const { features, categoricalSizes } = this.config;
    const C = categoricalSizes.length;
    if (b.numeric.length !== b.batch * features || b.categorical.length !== b.batch * C) {
      throw new ShapeError(`FraudMlp: ${b.numeric.length} numeric values and ${b.categorical.length} ids for a batch of ${b.batch}, expected ${formatShape([b.batch, features])} and ${formatShape([b.batch, C])}`);
    }
    const parts = [new Tensor(b.numeric, [b.batch, features])];
    this.embeddings.forEach((e, k) => {
      const ids = Int32Array.from({ length: b.batch }, (_, i) => b.categorical[i * C + k]!);
      parts.push(e.lookup(ids, [b.batch]));
    });
    const x = parts.length === 1 ? parts[0]! : concat(parts, 1);
    return this.out.forward(relu(this.layer2.forward(relu(this.layer1.forward(x)))));
  }

  forward(): Tensor {
    throw new Error("FraudMlp takes a batch of numeric and categorical features: call logits(batch)");
  }
}
