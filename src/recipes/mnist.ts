// MNIST recipe: the CNN of models/mnist-cnn.ts trained on the mnist package's 10,000 real digits
// (fixed 8,000 / 2,000 split), with what a careful practitioner adds to the plain PyTorch loop:
// random shifts of up to 2 pixels, Adam with warm-up and cosine decay, and enough epochs.
//
//   weft train mnist                    one process
//   weft train mnist --workers 2        data-parallel on 2 workers (through weft launch)
import {
  collateLabeled, DataLoader, loadMnist, MNIST_TRAIN_MEAN, MNIST_TRAIN_STD, randomShiftAugment,
  type LabeledBatch, type LabeledSample, type MnistSplit, type Sampler,
} from "../data/index.js";
import { mnistCnn } from "../models/mnist-cnn.js";
import { manualSeed, type Module } from "../nn/index.js";
import { Adam, warmupCosine } from "../optim/index.js";
import { argmax, crossEntropy, noGrad, Tensor } from "../tensor/index.js";

export interface MnistConfig {
  epochs: number; // passes over the 8,000 training digits
  batchSize: number; // per worker
  lr: number; // Adam's peak learning rate, reached after `warmupSteps`
  warmupSteps: number;
  maxShift: number; // random translation of each training digit, in pixels
  seed: number; // initialisation, shuffling and augmentation
}

export const mnistDefaults: MnistConfig = { epochs: 12, batchSize: 64, lr: 2e-3, warmupSteps: 100, maxShift: 2, seed: 0 };

/** What one training step reports to whoever watches (progress bar, metrics stream). */
export interface StepInfo {
  step: number;
  epoch: number;
  batchInEpoch: number;
  batchesPerEpoch: number;
  loss: number;
  samples: number;
  /** Forward, backward and optimizer time of the step. */
  computeMs: number;
  /** Time the step was blocked on communication. */
  waitMs: number;
}

/** How data-parallel training plugs into the loop (the single-process run uses the defaults). */
export interface MnistParallel {
  /** This worker's share of each epoch's indices. */
  sampler?: Sampler;
  /** Called once with the model before training (DDP broadcasts parameters and registers its hooks). */
  prepare?(model: Module): Promise<void>;
  /** Called after backward, before the optimizer step (DDP waits for its all-reduces here). */
  afterBackward?(): Promise<void>;
}

export interface MnistResult {
  test_accuracy: number;
  test_loss: number;
  train_loss: number;
  steps: number;
  samples: number;
  samples_per_s: number;
  wall_s: number;
}

/** Thrown when the loss stops being a number: the step is named and nothing is updated with it. */
export class NonFiniteLossError extends Error {
  override name = "NonFiniteLossError";
}

export async function trainMnist(
  config: MnistConfig = mnistDefaults,
  onStep: (info: StepInfo) => void = () => {},
  parallel: MnistParallel = {},
): Promise<MnistResult> {
  const { train, test } = loadMnist();
  manualSeed(config.seed);
  const model = mnistCnn();
  await parallel.prepare?.(model);
  const collate = collateLabeled({
    sampleShape: [1, 28, 28],
    augment: config.maxShift > 0 ? randomShiftAugment(config.maxShift) : undefined,
    normalize: { mean: MNIST_TRAIN_MEAN, std: MNIST_TRAIN_STD },
  });
  const loader = new DataLoader<LabeledSample, LabeledBatch>(train, {
    batchSize: config.batchSize, collate, seed: config.seed,
    ...(parallel.sampler ? { sampler: parallel.sampler } : { shuffle: true }),
  });
  const totalSteps = config.epochs * loader.batchesPerEpoch;
  const schedule = warmupCosine({ peak: config.lr, warmup: config.warmupSteps, total: totalSteps });
  const opt = new Adam(model.parameters(), { lr: config.lr });

  const started = performance.now();
  let step = 0, samples = 0, lastLoss = NaN;
  for (let epoch = 0; epoch < config.epochs; epoch++) {
    model.train();
    let batchInEpoch = 0;
    for await (const batch of loader.epoch(epoch)) {
      const t0 = performance.now();
      opt.lr = schedule(step);
      opt.zeroGrad();
      const loss = crossEntropy(model.forward(new Tensor(batch.x, batch.xShape)), batch.y);
      lastLoss = loss.item();
      if (!Number.isFinite(lastLoss)) {
        throw new NonFiniteLossError(
          `MNIST: the loss is ${lastLoss} at step ${step} (epoch ${epoch}); no update was applied. ` +
            `Lower --lr (now ${config.lr}) or check the input data.`,
        );
      }
      loss.backward();
      const tWait = performance.now();
      await parallel.afterBackward?.();
      const waitMs = performance.now() - tWait;
      opt.step();
      step++;
      samples += batch.y.length;
      onStep({
        step, epoch, batchInEpoch: ++batchInEpoch, batchesPerEpoch: loader.batchesPerEpoch,
        loss: lastLoss, samples: batch.y.length, computeMs: performance.now() - t0 - waitMs, waitMs,
      });
    }
  }
  const wall = (performance.now() - started) / 1000;
  const evaluation = evaluate(model, test);
  return {
    ...evaluation, train_loss: lastLoss, steps: step, samples,
    samples_per_s: Math.round((10 * samples) / wall) / 10, wall_s: Math.round(wall * 100) / 100,
  };
}

/** Accuracy and mean loss on a split, in evaluation mode, without gradients. */
export function evaluate(model: Module, split: MnistSplit, batchSize = 500): { test_accuracy: number; test_loss: number } {
  model.eval();
  let correct = 0, lossSum = 0;
  const pixels = 784;
  noGrad(() => {
    for (let start = 0; start < split.length; start += batchSize) {
      const n = Math.min(batchSize, split.length - start);
      const x = new Float32Array(n * pixels);
      const raw = split.images.subarray(start * pixels, (start + n) * pixels);
      const scale = 1 / MNIST_TRAIN_STD;
      for (let i = 0; i < x.length; i++) x[i] = (raw[i]! - MNIST_TRAIN_MEAN) * scale;
      const labels = split.labels.subarray(start, start + n);
      const logits = model.forward(new Tensor(x, [n, 1, 28, 28]));
      lossSum += crossEntropy(logits, labels).item() * n;
      const predicted = argmax(logits);
      for (let i = 0; i < n; i++) if (predicted[i] === labels[i]) correct++;
    }
  });
  model.train();
  return { test_accuracy: correct / split.length, test_loss: lossSum / split.length };
}

