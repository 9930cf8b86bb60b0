// SpamBag: the spam recipe's network, an embedding bag in the manner of fastText (Joulin et al.,
// "Bag of Tricks for Efficient Text Classification", 2016): each token id looks up a learned
// vector, a message is the mean of its tokens' vectors, and a small MLP reads that mean.
//
//   tokens (B, L) -> lookup (B, L, dim) -> weighted sum over L (B, dim) -> Linear -> ReLU -> Linear (B, 2)
//
// The mean is a weighted sum whose weights the batch carries (1/length for a message's tokens, 0
// for padding), so a batch pads to its longest message and padding never counts. Word order is
// lost; for spam that costs little (the words give it away) and buys a model that trains in
// minutes on two cores.
import { Embedding, Linear, Module } from "../nn/index.js";
import { mul, relu, sum, Tensor } from "../tensor/index.js";
import { formatShape, ShapeError } from "../tensor/shape.js";

/** A batch of messages: ids padded to one length, each token's weight in its message's mean, labels. */
export interface SpamBatch {
  /** (batch, time) token ids, padding at the end of each row. */
  tokens: Int32Array;
  /** (batch, time): 1 / length for each real token of a message, 0 for padding. */
  weights: Float32Array;
  /** (batch) 0 ham, 1 spam. */
  labels: Int32Array;
  batch: number;
  time: number;
}

export interface SpamBagConfig {
  /** Vocabulary size, padding and unknown included. */
  vocab: number;
  /** Width of a token's vector. */
  dim: number;
  /** Width of the hidden layer. */
  hidden: number;
}

export class SpamBag extends Module {
  readonly embed: Embedding;
  readonly hidden: Linear;
  readonly out: Linear;

  constructor(readonly config: SpamBagConfig) {
    super();
    this.embed = this.child("embed", new Embedding(config.vocab, config.dim));
    this.hidden = this.child("hidden", new Linear(config.dim, config.hidden));
    this.out = this.child("out", new Linear(config.hidden, 2));
  }

  /** Logits (batch, 2): ham, spam. */
  logits(b: SpamBatch): Tensor {
    const { batch, time } = b;
    if (b.tokens.length !== batch * time || b.weights.length !== batch * time) {
      throw new ShapeError(`SpamBag: ${b.tokens.length} tokens and ${b.weights.length} weights for a batch of ${formatShape([batch, time])}`);
    }
    const vectors = this.embed.lookup(b.tokens, [batch, time]); // (B, L, dim)
    const bag = sum(mul(vectors, new Tensor(b.weights, [batch, time, 1])), 1); // (B, dim)
    return this.out.forward(relu(this.hidden.forward(bag)));
  }

  forward(): Tensor {
    throw new Error("SpamBag takes a batch of token ids: call logits(batch)");
  }
}
