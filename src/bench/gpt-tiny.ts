// `weft bench gpt-tiny`: training tokens/s of the tiny causal transformer, as the PyTorch peer
// measures it (batch 32 x context 128 of random tokens, AdamW 3e-4, warm-up steps first).
import { backend } from "../backend/index.js";
import { TinyGpt, tinyGptDefaults } from "../models/tiny-gpt.js";
import { manualSeed } from "../nn/index.js";
import { AdamW } from "../optim/index.js";
import { crossEntropy, reshape, reusingBuffers } from "../tensor/index.js";
import { Rng } from "../util/rng.js";
import { precisionFields, timeSteps, type BenchOptions } from "./options.js";

export function benchGptTiny(o: BenchOptions): Record<string, unknown> {
  const batch = o.batch ?? 32, steps = o.steps ?? 20, warmup = o.warmup ?? 3;
  const { vocab, context } = tinyGptDefaults;
  manualSeed(0);
  const rng = new Rng(0);
  const model = new TinyGpt();
  const opt = new AdamW(model.parameters(), { lr: 3e-4 });
  const x = Int32Array.from({ length: batch * context }, () => rng.int(vocab));
  const y = Int32Array.from({ length: batch * context }, () => rng.int(vocab));
  // As `weft train` steps (Note [reusing a step's buffers]); PyTorch frees each buffer when its last reference goes.
  const { totalS, medianMs } = timeSteps(o, warmup, steps, () => reusingBuffers(() => {
    opt.zeroGrad();
    crossEntropy(reshape(model.logits(x, batch, context), [-1, vocab]), y).backward();
    opt.step();
  }));
  return {
    bench: "gpt-tiny", backend: backend().name, threads: 1, ...precisionFields(o), params: model.parameterCount(), batch, context, steps,
    tokens_per_s: Math.round((10 * batch * context * steps) / totalS) / 10,
    step_ms_median: Math.round(medianMs * 1000) / 1000,
  };
}
