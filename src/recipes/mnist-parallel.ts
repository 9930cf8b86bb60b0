// `weft train mnist --workers N`: starts N DDP workers on this machine through the launcher
// (mnist-worker.ts), shows their live summary, and prints the result rank 0 wrote.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateSecret } from "../distributed/wire/secret.js";
import { launchJob } from "../distributed/launch/launcher.js";
import { backend } from "../backend/index.js";
import { mnistConfigFrom } from "./mnist-command.js";
import { RESULT_FILE } from "./mnist-worker-files.js";

export async function runMnistParallel(argv: readonly string[], workers: number): Promise<number> {
  if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`--workers must be a positive integer, got ${workers}`);
  const { config, json } = mnistConfigFrom(argv);
  const workerArgs = argv.filter((a, i) => !(a === "--workers" || argv[i - 1] === "--workers" || a.startsWith("--workers=") || a === "--json"));
  const job = await launchJob({
    nproc: workers, nnodes: 1, nodeRank: 0, rdzvHost: "127.0.0.1", rdzvPort: 0,
    secret: process.env.WEFT_JOB_SECRET ?? generateSecret(),
    script: fileURLToPath(new URL("./mnist-worker.js", import.meta.url)),
    args: workerArgs, graceMs: 5000, liveMetrics: process.stderr.isTTY === true,
  });
  if (job.exitCode !== 0) return job.exitCode;
  const result = JSON.parse(readFileSync(join(job.runDir, RESULT_FILE), "utf8")) as Record<string, unknown>;
  const report = { recipe: "mnist", workers, strategy: "ddp", backend: backend().name, epochs: config.epochs, run_dir: job.runDir, ...result };
  if (json) console.log(JSON.stringify(report));
  else {
    console.log(
      `mnist: test accuracy ${(100 * (result.test_accuracy as number)).toFixed(2)}% after ${config.epochs} epochs on ${workers} workers, ` +
        `${result.samples_per_s} samples/s, ${result.wall_s} s (metrics in ${job.runDir})`,
    );
  }
  return 0;
}
