// A tiny causal character transformer (the same network as the PyTorch peer benchmark):
// token + learned position embeddings, pre-LN blocks, a final LayerNorm and an untied head.
import { checkSplit, Embedding, LayerNorm, Linear, Module, ModuleGroup, TransformerBlock, type LayerStack } from "../nn/index.js";
import { formatShape, ShapeError } from "../tensor/shape.js";
import { add, crossEntropy, reshape, type Tensor } from "../tensor/index.js";

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
    let x = this.embed(tokens, batch, time);
    for (const block of this.blocks) x = block.forward(x);
    return this.head.forward(this.ln.forward(x));
  }

  /** Token ids (B, T) -> token plus position embeddings (B, T, dim): the first layer of the stack. */
  embed(tokens: Int32Array, batch: number, time: number): Tensor {
    if (tokens.length !== batch * time || time > this.config.context) {
      throw new ShapeError(`TinyGpt: ${tokens.length} tokens as ${formatShape([batch, time])} (context ${this.config.context})`);
    }
    return add(this.tok.lookup(tokens, [batch, time]), this.pos.lookup(this.positions.subarray(0, time), [time]));
  }

  /** Next-token cross-entropy of a batch, averaged over its tokens. */
  loss(b: TokenBatch): Tensor {
    return crossEntropy(reshape(this.logits(b.tokens, b.batch, b.time), [-1, this.config.vocab]), b.targets);
  }

  /**
   * The model as a layer stack (nn/layer-stack.ts): the embeddings, each block, then the final
   * norm with the head; running it computes loss() with the same ops in the same order.
   */
  layerStack(): LayerStack<TokenBatch> {
    const vocab = this.config.vocab;
    return {
      layers: [
        { name: "embed", module: new ModuleGroup({ tok: this.tok, pos: this.pos }), forward: (_x, b) => this.embed(b.tokens, b.batch, b.time) },
        ...this.blocks.map((block, i) => ({ name: `blocks.${i}`, module: block, forward: (x: Tensor | undefined) => block.forward(x!) })),
        { name: "head", module: new ModuleGroup({ ln: this.ln, head: this.head }), forward: (x) => this.head.forward(this.ln.forward(x!)) },
      ],
      loss: (logits, b) => crossEntropy(reshape(logits, [-1, vocab]), b.targets),
      split: splitTokens,
      samplesIn: (b) => b.batch,
    };
  }

  forward(): Tensor {
    throw new Error("TinyGpt takes token ids: call logits(tokens, batch, time)");
  }
}

/** B sequences of T token ids and, for each position, the id that follows it. */
export interface TokenBatch {
  tokens: Int32Array;
  targets: Int32Array;
  batch: number;
  time: number;
}

/** Cuts a token batch into `parts` consecutive micro-batches of whole sequences (views). */
export function splitTokens(b: TokenBatch, parts: number): TokenBatch[] {
  const m = checkSplit(b.batch, parts);
  const n = m * b.time;
  return Array.from({ length: parts }, (_, k) => ({
    tokens: b.tokens.subarray(k * n, (k + 1) * n), targets: b.targets.subarray(k * n, (k + 1) * n), batch: m, time: b.time,
  }));
}
