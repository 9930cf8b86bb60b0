// A tiny causal character transformer (the same network as the PyTorch peer benchmark):
// token + learned position embeddings, pre-LN blocks, a final LayerNorm and an untied head.
import { Embedding, LayerNorm, Linear, Module, TransformerBlock } from "../nn/index.js";
import { formatShape, ShapeError } from "../tensor/shape.js";
import { add, type Tensor } from "../tensor/index.js";

export interface TinyGptConfig {
  vocab: number; // distinct tokens
  context: number; // longest sequence
  layers: number;
  dim: number; // d_model
  heads: number;
}

export const tinyGptDefaults: TinyGptConfig = { vocab: 96, context: 128, layers: 4, dim: 128, heads: 4 };

export class TinyGpt extends Module {
  readonly tok: Embedding;
  readonly pos: Embedding;
  readonly blocks: TransformerBlock[];
  readonly ln: LayerNorm;
  readonly head: Linear;
  private readonly positions: Int32Array;

  constructor(readonly config: TinyGptConfig = tinyGptDefaults) {
    super();
    const { vocab, context, layers, dim, heads } = config;
    this.tok = this.child("tok", new Embedding(vocab, dim));
    this.pos = this.child("pos", new Embedding(context, dim));
    this.blocks = Array.from({ length: layers }, (_, i) => this.child(`blocks.${i}`, new TransformerBlock(dim, heads)));
    this.ln = this.child("ln", new LayerNorm(dim));
    this.head = this.child("head", new Linear(dim, vocab));
    this.positions = Int32Array.from({ length: context }, (_, i) => i);
  }

  /** Token ids (B, T) -> logits (B, T, vocab). */
  logits(tokens: Int32Array, batch: number, time: number): Tensor {
    if (tokens.length !== batch * time || time > this.config.context) {
      throw new ShapeError(`TinyGpt: ${tokens.length} tokens as ${formatShape([batch, time])} (context ${this.config.context})`);
    }
    let x = add(this.tok.lookup(tokens, [batch, time]), this.pos.lookup(this.positions.subarray(0, time), [time]));
    for (const block of this.blocks) x = block.forward(x);
    return this.head.forward(this.ln.forward(x));
  }

  forward(): Tensor {
    throw new Error("TinyGpt takes token ids: call logits(tokens, batch, time)");
  }
}
