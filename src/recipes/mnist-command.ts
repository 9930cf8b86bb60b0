// `weft train mnist`: options, a progress bar on the terminal, and with --json a last stdout line
// holding the result as one JSON object.
import { backend } from "../backend/index.js";
import { describeOptions, parseOptions, type OptionSpec } from "../cli/args.js";
import { ProgressBar } from "../cli/progress.js";
import { mnistDefaults, trainMnist, type MnistConfig } from "./mnist.js";

const spec: Record<string, OptionSpec> = {
  epochs: { type: "number", help: `passes over the training digits (default ${mnistDefaults.epochs})` },
  batch: { type: "number", help: `batch size per worker (default ${mnistDefaults.batchSize})` },
  lr: { type: "number", help: `peak learning rate (default ${mnistDefaults.lr})` },
  shift: { type: "number", help: `random shift in pixels (default ${mnistDefaults.maxShift})` },
  seed: { type: "number", help: `seed (default ${mnistDefaults.seed})` },
  workers: { type: "number", help: "data-parallel workers on this machine (default 1)" },
  "bucket-kb": { type: "number", help: "DDP gradient bucket size in KiB (default 1024)" },
  json: { type: "flag", help: "print the result as one JSON line" },
  help: { type: "flag", help: "show this help" },
};

export function mnistConfigFrom(argv: readonly string[]): { config: MnistConfig; workers: number; bucketKb: number | undefined; json: boolean; help: boolean } {
  const { options } = parseOptions(argv, spec);
  const config: MnistConfig = {
    ...mnistDefaults,
    epochs: (options.epochs as number | undefined) ?? mnistDefaults.epochs,
    batchSize: (options.batch as number | undefined) ?? mnistDefaults.batchSize,
    lr: (options.lr as number | undefined) ?? mnistDefaults.lr,
    maxShift: (options.shift as number | undefined) ?? mnistDefaults.maxShift,
    seed: (options.seed as number | undefined) ?? mnistDefaults.seed,
  };
  return {
    config, workers: (options.workers as number | undefined) ?? 1, bucketKb: options["bucket-kb"] as number | undefined,
    json: options.json === true, help: options.help === true,
  };
}

export async function runMnistCommand(argv: readonly string[]): Promise<number> {
  const { config, workers, json, help } = mnistConfigFrom(argv);
  if (help) {
    console.log(`usage: weft train mnist [options]\n${describeOptions(spec)}`);
    return 0;
  }
  if (workers !== 1) {
    const { runMnistParallel } = await import("./mnist-parallel.js");
    return runMnistParallel(argv, workers);
  }
  let bar: ProgressBar | null = null;
  let window = { samples: 0, ms: 0 };
  const result = await trainMnist(config, (s) => {
    bar ??= new ProgressBar("mnist", config.epochs * s.batchesPerEpoch);
    window = { samples: window.samples + s.samples, ms: window.ms + s.computeMs };
    if (window.ms > 1000) window = { samples: s.samples, ms: s.computeMs };
    bar.update(s.step, {
      epoch: `${s.epoch + 1}/${config.epochs}`,
      loss: s.loss.toFixed(4),
      "samples/s": Math.round((1000 * window.samples) / window.ms),
    });
  });
  const report = { recipe: "mnist", workers: 1, strategy: "single", backend: backend().name, epochs: config.epochs, ...result };
  if (json) console.log(JSON.stringify(report));
  else {
    console.log(
      `mnist: test accuracy ${(100 * result.test_accuracy).toFixed(2)}% after ${config.epochs} epochs, ` +
        `${result.samples_per_s} samples/s, ${result.wall_s} s`,
    );
  }
  return 0;
}
