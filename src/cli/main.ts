#!/usr/bin/env node
// The `weft` command: train a recipe, benchmark, or launch a distributed job.
import { describeOptions, parseOptions, UsageError, type OptionSpec } from "./args.js";

const usage = `usage: weft <command> ...

  weft train mnist [options]      train the MNIST CNN on the mnist package's 10,000 digits
  weft bench mnist-cnn|gpt-tiny   training throughput, one JSON line (compare with ../peers)
  weft bench allreduce            all-reduce bus bandwidth between 2 workers, one JSON line per size
  weft launch --nproc N script    run a script on N workers (like torchrun)

Run \`weft <command> --help\` for a command's options.`;

const benchSpec: Record<string, OptionSpec> = {
  steps: { type: "number", help: "timed steps" },
  warmup: { type: "number", help: "untimed steps first" },
  batch: { type: "number", help: "batch size" },
  json: { type: "flag", help: "(accepted for symmetry: the output is always one JSON line)" },
  profile: { type: "flag", help: "print a per-kernel time profile on stderr" },
  help: { type: "flag", help: "show this help" },
};

async function bench(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "allreduce") {
    const { runAllreduceBench } = await import("../bench/allreduce-bench.js");
    await runAllreduceBench(rest);
    return 0;
  }
  const { options } = parseOptions(rest, benchSpec);
  if (options.help || (name !== "mnist-cnn" && name !== "gpt-tiny")) {
    console.log(`usage: weft bench mnist-cnn|gpt-tiny|allreduce [options]\n${describeOptions(benchSpec)}`);
    return options.help ? 0 : 2;
  }
  const o = {
    steps: options.steps as number | undefined, warmup: options.warmup as number | undefined,
    batch: options.batch as number | undefined, profile: options.profile === true,
  };
  const result = name === "mnist-cnn"
    ? (await import("../bench/mnist-cnn.js")).benchMnistCnn(o)
    : (await import("../bench/gpt-tiny.js")).benchGptTiny(o);
  console.log(JSON.stringify(result));
  return 0;
}

async function train(argv: string[]): Promise<number> {
  const [recipe, ...rest] = argv;
  if (recipe !== "mnist") {
    console.error(`weft train: unknown recipe "${recipe ?? ""}"; available: mnist`);
    return 2;
  }
  const { runMnistCommand } = await import("../recipes/mnist-command.js");
  return runMnistCommand(rest);
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "train":
      return train(rest);
    case "bench":
      return bench(rest);
    case "launch": {
      const { runLaunch } = await import("./run-launch.js");
      return runLaunch(rest);
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(usage);
      return command === undefined ? 2 : 0;
    default:
      console.error(`weft: unknown command "${command}"\n\n${usage}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      console.error(`weft: ${err.message}`);
      process.exitCode = 2;
    } else {
      // The message is written to be read; the stack only when asked for.
      const detail = err instanceof Error ? (process.env.WEFT_DEBUG ? (err.stack ?? err.message) : `${err.name}: ${err.message}`) : String(err);
      console.error(`weft: ${detail}${process.env.WEFT_DEBUG ? "" : "\n(set WEFT_DEBUG=1 to see where it came from)"}`);
      process.exitCode = 1;
    }
  },
);
