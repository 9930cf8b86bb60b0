// `weft bench mnist-cnn`: training throughput of the MNIST CNN, exactly as the PyTorch peer
// measures it (batch 64 of random 1x28x28 inputs, cross-entropy, Adam 1e-3, warm-up steps first).
import { backend } from "../backend/index.js";
import { mnistCnn } from "../models/mnist-cnn.js";
import { manualSeed } from "../nn/index.js";
import { Adam } from "../optim/index.js";
import { crossEntropy, randn, reusingBuffers } from "../tensor/index.js";
import { Rng } from "../util/rng.js";
import { precisionFields, timeSteps, type BenchOptions } from "./options.js";

export function benchMnistCnn(o: BenchOptions): Record<string, unknown> {
  const batch = o.batch ?? 64, steps = o.steps ?? 200, warmup = o.warmup ?? 10;
  manualSeed(0);
  const rng = new Rng(0);
  const model = mnistCnn();
  const opt = new Adam(model.parameters(), { lr: 1e-3 });
  const x = randn([batch, 1, 28, 28], rng);
  const y = Int32Array.from({ length: batch }, () => rng.int(10));
  // As `weft train` steps (Note [reusing a step's buffers]); PyTorch frees each buffer when its last reference goes.
  const { totalS, medianMs } = timeSteps(o, warmup, steps, () => reusingBuffers(() => {
    opt.zeroGrad();
    crossEntropy(model.forward(x), y).backward();
    opt.step();
  }));
  return {
    bench: "mnist-cnn", backend: backend().name, threads: 1, ...precisionFields(o), batch, steps,
    samples_per_s: Math.round((10 * batch * steps) / totalS) / 10,
    step_ms_median: Math.round(medianMs * 1000) / 1000,
  };
}
