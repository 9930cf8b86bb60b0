// `weft bench <name> [options]`: training throughput (mnist-cnn, gpt-tiny: one JSON line),
// all-reduce bandwidth (allreduce: one JSON line per size) and gradient compression over capped
// links (compression: one JSON line per link and hook). Each bench's options are a table for the
// one parser, so a bad flag is one line and exit 2 before anything is timed.
import { ALLREDUCE_OPTIONS, allreduceSettings } from "../bench/allreduce-options.js";
import { COMPRESSION_OPTIONS, compressionSettings } from "../bench/compression-options.js";
import { netnsLinkProblem } from "../bench/netns-link.js";
import { findRecipe } from "../recipes/index.js";
import type { OptionTable } from "../train/option-spec.js";
import { describeOptions, parseCommandLine, UsageError } from "./options.js";
import { checkWorkerCount } from "./worker-count.js";
import { weftEntry } from "./weft-entry.js";
import { PRECISION_OPTION, resolvePrecision, type PrecisionFlag } from "./precision-flag.js";

const TRAINING_BENCH_OPTIONS = {
  steps: { type: "int", min: 1, help: "timed steps (default 200 for mnist-cnn, 20 for gpt-tiny)" },
  warmup: { type: "int", min: 0, help: "untimed steps first (default 10 for mnist-cnn, 3 for gpt-tiny)" },
  batch: { type: "int", min: 1, max: 1 << 16, help: "batch size (default 64 for mnist-cnn, 32 for gpt-tiny)" },
  profile: { type: "flag", help: "print a per-kernel time profile on stderr" },
  ...PRECISION_OPTION,
  json: { type: "flag", help: "(accepted for symmetry: the output is always one JSON line)" },
  help: { type: "flag", short: "h", help: "show this help" },
} as const satisfies OptionTable;

const BENCHES = {
  "mnist-cnn": "training samples per second of the MNIST CNN",
  "gpt-tiny": "training tokens of a tiny GPT per second",
  allreduce: "all-reduce latency and bus bandwidth between workers on this machine",
  compression: "DDP's gradient hooks over capped links between two network namespaces: bytes, time, loss",
} as const;

type BenchName = keyof typeof BENCHES;

const NAMES = Object.keys(BENCHES).join(", ");

function overview(): string {
  const rows = Object.entries(BENCHES).map(([name, what]) => `  ${name.padEnd(12)}${what}`);
  return `usage: weft bench <name> [options]\n\n${rows.join("\n")}\n\nRun \`weft bench <name> --help\` for a bench's options.`;
}

function isBench(name: string): name is BenchName {
  return Object.hasOwn(BENCHES, name);
}

async function trainingBench(name: "mnist-cnn" | "gpt-tiny", argv: string[]): Promise<number> {
  const command = `weft bench ${name}`;
  const { values: v } = parseCommandLine(argv, TRAINING_BENCH_OPTIONS, { command });
  if (v.help) {
    console.log(`usage: ${command} [options]\n\n${BENCHES[name]}, printed as one JSON line.\n\noptions:\n${describeOptions(TRAINING_BENCH_OPTIONS)}`);
    return 0;
  }
  const o = {
    ...(v.steps === undefined ? {} : { steps: v.steps }),
    ...(v.warmup === undefined ? {} : { warmup: v.warmup }),
    ...(v.batch === undefined ? {} : { batch: v.batch }),
    profile: v.profile,
    ...resolvePrecision(v.precision as PrecisionFlag, command, (line) => void process.stderr.write(`${line}\n`)),
  };
  const result = name === "mnist-cnn" ? (await import("../bench/mnist-cnn.js")).benchMnistCnn(o) : (await import("../bench/gpt-tiny.js")).benchGptTiny(o);
  console.log(JSON.stringify(result));
  return 0;
}

async function allreduceBench(argv: string[]): Promise<number> {
  const command = "weft bench allreduce";
  const { values: v } = parseCommandLine(argv, ALLREDUCE_OPTIONS, { command });
  const { ALLREDUCE_BENCH_ABOUT, runAllreduceBench } = await import("../bench/allreduce-bench.js");
  if (v.help) {
    console.log(`usage: ${command} [options]\n\n${BENCHES.allreduce}.\n\noptions:\n${describeOptions(ALLREDUCE_OPTIONS)}\n\n${ALLREDUCE_BENCH_ABOUT}`);
    return 0;
  }
  let settings;
  try {
    checkWorkerCount(v.workers, v.oversubscribe, "--workers");
    settings = allreduceSettings(v);
  } catch (err) {
    // The bench layer cannot throw the CLI's UsageError; its RangeErrors name the flag.
    if (err instanceof UsageError || err instanceof RangeError) throw new UsageError(`${command}: ${err.message}`);
    throw err;
  }
  return runAllreduceBench(v.workers, settings);
}

async function compressionBench(argv: string[]): Promise<number> {
  const command = "weft bench compression";
  // The recipe's own flags follow `--`; they are parsed against the recipe's table below.
  const split = argv.indexOf("--");
  const own = split < 0 ? argv : argv.slice(0, split);
  const { values: v } = parseCommandLine(own, COMPRESSION_OPTIONS, { command });
  const { BenchInterrupted, COMPRESSION_BENCH_ABOUT, runCompressionBench } = await import("../bench/compression-bench.js");
  if (v.help) {
    console.log(`usage: ${command} [options] [-- recipe flags]\n\n${BENCHES.compression}.\n\noptions:\n${describeOptions(COMPRESSION_OPTIONS)}\n\n${COMPRESSION_BENCH_ABOUT}`);
    return 0;
  }
  const recipe = findRecipe(v.recipe)!;
  const recipeFlags = parseCommandLine(split < 0 ? [] : argv.slice(split + 1), recipe.options, { command: `${command} --recipe ${recipe.name} --` }).values;
  let settings;
  try {
    settings = compressionSettings(v, recipeFlags);
  } catch (err) {
    if (err instanceof RangeError) throw new UsageError(`${command}: ${err.message}`);
    throw err;
  }
  const problem = netnsLinkProblem();
  if (problem !== undefined) throw new UsageError(`${command}: ${problem}`);
  try {
    await runCompressionBench({ settings, weft: weftEntry() });
    return 0;
  } catch (err) {
    if (!(err instanceof BenchInterrupted)) throw err;
    console.error(err.message);
    return err.exitCode;
  }
}

/** Runs `weft bench <argv>` and returns the exit status. */
export async function runBenchCommand(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--help" || name === "-h") {
    console.log(overview());
    return 0;
  }
  if (name === undefined || name.startsWith("-")) throw new UsageError(`weft bench: which bench? the benches are ${NAMES} (weft bench --help)`);
  if (!isBench(name)) throw new UsageError(`weft bench: unknown bench "${name}"; the benches are ${NAMES}`);
  if (name === "compression") return compressionBench(rest);
  return name === "allreduce" ? allreduceBench(rest) : trainingBench(name, rest);
}
