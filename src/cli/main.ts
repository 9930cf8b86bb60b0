#!/usr/bin/env node
// The `weft` command: train a recipe, compare configurations of one, benchmark, or launch a
// distributed job. Each command lives in its own file; this one only dispatches and turns errors
// into one line and an exit status (2 for bad input, 1 for a failure).
import { readFileSync } from "node:fs";
import { UsageError } from "./options.js";

const usage = `usage: weft <command> ...

  weft train <recipe> [options]   train a recipe (weft train --list shows them)
  weft compare <recipe> --grid KEY=V1,V2 ...
                                  train several configurations, write a report (table, charts)
  weft generate CHECKPOINT        write text from a trained model (gpt-text)
  weft chaos <recipe> [options]   train while killing and freezing workers; report the recoveries
  weft bench <name> [options]     mnist-cnn, gpt-tiny (training throughput), allreduce (bus bandwidth),
                                  compression (gradient hooks over capped links)
  weft launch [options] script    run a script on N workers, like torchrun
  weft diagnose RUN_DIR           what the ranks of a stuck or failed job were doing (flight records)
  weft dashboard RUN_DIR          serve the live page of a run folder or a weft compare report
  weft export RUN_DIR --format csv|jsonl|tensorboard
                                  write a run's per-step metrics for other tools
  weft k8s --workers N --image IMAGE -- script
                                  print the Kubernetes manifests of a job of N pods
  weft --version                  the version of this package

Run \`weft <command> --help\` for a command's options.`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "train":
      return (await import("./train-command.js")).runTrainCommand(rest);
    case "compare":
      return (await import("./compare-command.js")).runCompareCommand(rest);
    case "generate":
      return (await import("./generate-command.js")).runGenerateCommand(rest);
    case "chaos":
      return (await import("./chaos-command.js")).runChaosCommand(rest);
    case "bench":
      return (await import("./bench-command.js")).runBenchCommand(rest);
    case "launch":
      return (await import("./run-launch.js")).runLaunch(rest);
    case "diagnose":
      return (await import("./diagnose-command.js")).runDiagnoseCommand(rest);
    case "dashboard":
      return (await import("./dashboard-command.js")).runDashboardCommand(rest);
    case "export":
      return (await import("./export-command.js")).runExportCommand(rest);
    case "k8s":
      return (await import("./k8s-command.js")).runK8sCommand(rest);
    case "--version":
    case "-v":
      console.log(`weft ${version()}`);
      return 0;
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(usage);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}"; the commands are train, compare, generate, chaos, bench, launch, diagnose, dashboard, export, k8s (weft --help)`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      console.error(err.message.startsWith("weft") ? err.message : `weft: ${err.message}`);
      process.exitCode = 2;
    } else {
      // The message is written to be read; the stack only when asked for.
      const detail = err instanceof Error ? (process.env.WEFT_DEBUG ? (err.stack ?? err.message) : `${err.name}: ${err.message}`) : String(err);
      console.error(`weft: ${detail}${process.env.WEFT_DEBUG ? "" : " (WEFT_DEBUG=1 shows where it came from)"}`);
      process.exitCode = 1;
    }
  },
);
