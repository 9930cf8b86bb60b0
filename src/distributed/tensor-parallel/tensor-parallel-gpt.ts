// TinyGpt (models/tiny-gpt.ts) split across a tensor-parallel group, as Megatron-LM splits GPT:
//
//   tok   vocabulary-parallel embedding: each rank its range of token ids, rows summed by g
//   pos   replicated (the full model's own table)
//   block ln1, ln2 replicated; attention by heads (qkv column-, proj row-parallel); MLP fc
//         column-, out row-parallel                                   (parallel-block.ts)
//   ln    replicated
//   head  column-parallel by vocabulary (the same ranges as tok), its logits left split, and the
//         loss is the vocabulary-parallel cross-entropy: the whole row of logits never exists
//
// One step on a rank communicates 2 + 2L all-reduces of (B, T, D) floats forward (the embedding,
// each block's two g) and 1 + 2L backward (each f), plus two small ones in the loss: what the
// Megatron paper counts, 4 per layer.
//
// It is built from a full TinyGpt's parameters: every rank takes its slices of the same seeded
// model a single process would train, and the replicated tensors are the full model's own. Its
// parameters carry the full model's names ("blocks.0.attn.qkv.weight") and its loss computes
// TinyGpt.loss, the same ops on the same values up to summation order across the split (the
// tests bound the difference).
import { add, reshape, type Tensor } from "../../tensor/index.js";
import { formatShape, ShapeError } from "../../tensor/shape.js";
import { Module, type Embedding, type LayerNorm } from "../../nn/index.js";
import type { TinyGpt, TinyGptConfig, TokenBatch } from "../../models/tiny-gpt.js";
import type { ProcessGroup } from "../group/process-group.js";
import { ColumnParallelLinear } from "./column-parallel-linear.js";
import { TensorParallelComm } from "./operators.js";
import { divisors } from "./parallel-attention.js";
import { ParallelBlock } from "./parallel-block.js";
import { placementOf } from "./slices.js";
import type { ShardedParameter, TensorParallelModel } from "./tensor-parallel-model.js";
import { vocabParallelCrossEntropy } from "./vocab-parallel-cross-entropy.js";
import { VocabParallelEmbedding } from "./vocab-parallel-embedding.js";

export class TensorParallelGpt extends Module {
  readonly tok: VocabParallelEmbedding;
  readonly pos: Embedding;
  readonly blocks: ParallelBlock[];
  readonly ln: LayerNorm;
  readonly head: ColumnParallelLinear;
  readonly config: TinyGptConfig;
  private readonly positions: Int32Array;

  constructor(full: TinyGpt, readonly comm: TensorParallelComm) {
    super();
    this.config = full.config;
    const problem = tensorParallelGptProblem(full.config, comm.size);
    if (problem) throw new RangeError(problem);
    // Registered in TinyGpt's order, under its names, so the parameters line up one to one.
    this.tok = this.child("tok", new VocabParallelEmbedding(full.tok, comm));
    this.pos = this.child("pos", full.pos);
    this.blocks = full.blocks.map((block, i) => this.child(`blocks.${i}`, new ParallelBlock(block, comm)));
    this.ln = this.child("ln", full.ln);
    this.head = this.child("head", new ColumnParallelLinear(full.head, comm));
    this.positions = Int32Array.from({ length: full.config.context }, (_, i) => i);
  }

  /** Token ids (B, T) -> this rank's logits (B, T, its vocabulary range). */
  localLogits(tokens: Int32Array, batch: number, time: number): Tensor {
    if (tokens.length !== batch * time || time > this.config.context) {
      throw new ShapeError(`TensorParallelGpt: ${tokens.length} tokens as ${formatShape([batch, time])} (context ${this.config.context})`);
    }
    let x = add(this.tok.lookup(tokens, [batch, time]), this.pos.lookup(this.positions.subarray(0, time), [time]));
    for (const block of this.blocks) x = block.forward(x);
    return this.head.forward(this.ln.forward(x));
  }

  /** Next-token cross-entropy of a batch, averaged over its tokens: TinyGpt.loss, computed by the group together. */
  loss(b: TokenBatch): Tensor {
    const logits = this.localLogits(b.tokens, b.batch, b.time);
    return vocabParallelCrossEntropy(reshape(logits, [-1, this.head.localOut]), b.targets, this.head.range.start, this.config.vocab, this.comm);
  }

  forward(): Tensor {
    throw new Error("TensorParallelGpt takes token ids: call loss(batch) or localLogits(tokens, batch, time)");
  }
}

/**
 * Why a TinyGpt of `config` cannot be split across `ranks` (a one-line message naming what to
 * change), or undefined when it can. The heads must split evenly (and with them the model
 * width, heads × head size, and the MLP's 4 × width); the vocabulary may split unevenly, into
 * ranges that differ by one, but needs a row per rank.
 */
export function tensorParallelGptProblem(config: TinyGptConfig, ranks: number): string | undefined {
  const { heads, dim, vocab } = config;
  if (heads % ranks !== 0) return `tensor parallelism over ${ranks} ranks: the model's ${heads} attention heads do not split evenly; use --tp ${divisors(heads).join(", ")} (a divisor of the heads)`;
  if (dim % ranks !== 0) return `tensor parallelism over ${ranks} ranks: the model width ${dim} does not split evenly; use a --tp that divides ${dim}`;
  if (vocab < ranks) return `tensor parallelism over ${ranks} ranks: the vocabulary of ${vocab} tokens has fewer rows than ranks; use --tp ${vocab} or less`;
  return undefined;
}

/**
 * Each of `tp`'s parameters beside the full model's tensor of the same name and where it lies in
 * it: what the strategy steps, checkpoints and gathers. Throws when a name has no counterpart of
 * the right size (the forms were not built from each other).
 */
export function shardedParameters(tp: Module, full: Module): ShardedParameter[] {
  const byName = new Map(full.namedParameters());
  return tp.namedParameters().map(([name, local]) => {
    const whole = byName.get(name);
    if (!whole) throw new Error(`tensor parallelism: the rank's parameter "${name}" has no parameter of that name in the full model`);
    const split = placementOf(local);
    const expected = split ? local.size : whole.size;
    if ((split ? split.shape.reduce((a, b) => a * b, 1) : local.size) !== whole.size || local.size !== expected || (!split && local !== whole)) {
      throw new Error(`tensor parallelism: "${name}" of shape ${formatShape(local.shape)} is neither the full model's ${formatShape(whole.shape)} nor a slice of it`);
    }
    return split ? { name, full: whole, local, split } : { name, full: whole, local };
  });
}

/**
 * TinyGpt split across `group` (a tensor-parallel group: its ranks hold one model together),
 * from `model`'s parameters; what a GPT recipe's `tensorParallel` returns:
 * `tensorParallel: (model, _settings, group) => tensorParallelGpt(model as TinyGpt, group)`.
 * The group's collectives must run inline (shared memory, or one rank: ProcessGroup.allReduceInline).
 *
 * On one rank it is the model itself, split nowhere; test/distributed/strategies/
 * tensor-parallel-layers.test.ts checks its loss and gradients against TinyGpt's on 2 ranks.
 */
export function tensorParallelGpt(model: TinyGpt, group: ProcessGroup): TensorParallelModel<TokenBatch> & { comm: TensorParallelComm } {
  const comm = new TensorParallelComm(group);
  const tp = new TensorParallelGpt(model, comm);
  return { model: tp, loss: (b) => tp.loss(b), parameters: shardedParameters(tp, model), comm };
}
