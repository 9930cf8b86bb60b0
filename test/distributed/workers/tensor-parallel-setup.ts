// What the tensor-parallel tests and their workers share: the tiny GPT they train, its optimizer,
// and the batches of every step, a function of (step, data shard) only, so the workers and the
// single-process reference in the test see the same tokens.
import { TinyGpt, type TinyGptConfig, type TokenBatch } from "../../../src/models/tiny-gpt.js";
import { manualSeed } from "../../../src/nn/index.js";
import { Adam } from "../../../src/optim/index.js";
import { Rng } from "../../../src/util/rng.js";

/** vocab 32, context 16, 2 layers, width 32, 4 heads: about 28 k parameters. */
export const TP_CONFIG: TinyGptConfig = { vocab: 32, context: 16, layers: 2, dim: 32, heads: 4 };
/** Sequences per data shard per step. */
export const TP_BATCH = 4;
export const TP_LR = 3e-3;

export function tpModel(seed = 0, config: TinyGptConfig = TP_CONFIG): TinyGpt {
  manualSeed(seed);
  return new TinyGpt(config);
}

export function tpOptimizer(params: ConstructorParameters<typeof Adam>[0]): Adam {
  return new Adam(params, { lr: TP_LR });
}

/** Data shard `shard`'s batch at `step`: next-token pairs of a random token stream with some structure (each token tends to follow its predecessor + 1). */
export function tpBatch(step: number, shard: number, batch = TP_BATCH, config: TinyGptConfig = TP_CONFIG): TokenBatch {
  const rng = new Rng(1000 * step + shard + 1);
  const time = config.context;
  const tokens = new Int32Array(batch * time);
  const targets = new Int32Array(batch * time);
  for (let b = 0; b < batch; b++) {
    let t = rng.int(config.vocab);
    for (let i = 0; i <= time; i++) {
      const next = rng.next() < 0.7 ? (t + 1) % config.vocab : rng.int(config.vocab);
      if (i < time) tokens[b * time + i] = t;
      if (i > 0) targets[b * time + i - 1] = t;
      t = next;
    }
  }
  return { tokens, targets, batch, time };
}

/** The batches of `shards` data shards at one step as one batch, in shard order: what one process trains on. */
export function unionBatch(step: number, shards: number): TokenBatch {
  const parts = Array.from({ length: shards }, (_, d) => tpBatch(step, d));
  const cat = (key: "tokens" | "targets"): Int32Array => {
    const out = new Int32Array(parts.reduce((n, p) => n + p[key].length, 0));
    let at = 0;
    for (const p of parts) (out.set(p[key], at), (at += p[key].length));
    return out;
  };
  return { tokens: cat("tokens"), targets: cat("targets"), batch: TP_BATCH * shards, time: parts[0]!.time };
}
