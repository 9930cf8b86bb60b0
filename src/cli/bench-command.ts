// `weft bench mnist-cnn|gpt-tiny|allreduce`: training throughput and all-reduce bandwidth, one JSON line each.
import { describeOptions, parseOptions, type OptionSpec } from "./args.js";

const benchSpec: Record<string, OptionSpec> = {
  steps: { type: "number", help: "timed steps" },
  warmup: { type: "number", help: "untimed steps first" },
  batch: { type: "number", help: "batch size" },
  json: { type: "flag", help: "(accepted for symmetry: the output is always one JSON line)" },
  profile: { type: "flag", help: "print a per-kernel time profile on stderr" },
  help: { type: "flag", help: "show this help" },
};

export async function runBenchCommand(argv: string[]): Promise<number> {
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
