// `weft bench allreduce`: all-reduce latency and bus bandwidth between workers on this machine,
// measured like ../peers/gloo_allreduce.py so the two can be compared line by line.
// Bus bandwidth = 2(n-1)/n × bytes / time: the ring's traffic per worker (nccl-tests' definition).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { launchJob } from "../distributed/launch/launcher.js";
import { generateSecret } from "../distributed/wire/secret.js";
import { encodeAllreduceSettings, type AllreduceSettings } from "./allreduce-options.js";

export { ALLREDUCE_BENCH_SIZES } from "./allreduce-options.js";

/** What the bench prints, for its --help (the options' lines come from the option table). */
export const ALLREDUCE_BENCH_ABOUT = `--wire bf16 and f16 halve the bytes TCP carries and round the sums (docs/distributed.md).
Bytes are those of the float32 buffer, whatever travels.
Prints one JSON line per size: {"bench":"allreduce","bytes":…,"workers":…,"transport":…,"wire":…,"ms_median":…,"busbw_gbps":…}`;

/**
 * Runs the benchmark on `workers` workers (spawned through the launcher), prints one JSON line
 * per size on stdout, and returns the exit status: 0, or the failed worker's, which the launcher
 * has already reported. The workers' logs go to a temporary run directory, kept only when one
 * failed (the launcher's message names it).
 */
export async function runAllreduceBench(workers: number, settings: AllreduceSettings): Promise<number> {
  const runDir = mkdtempSync(join(tmpdir(), "weft-bench-allreduce-"));
  const result = await launchJob({
    nproc: workers,
    nnodes: 1,
    nodeRank: 0,
    rdzvHost: "127.0.0.1",
    rdzvPort: 0,
    secret: generateSecret(),
    script: fileURLToPath(new URL("./allreduce-worker.js", import.meta.url)),
    args: [encodeAllreduceSettings(settings)],
    graceMs: 2000,
    liveMetrics: false,
    runDir,
    onLine: (rank, stream, line) => {
      if (rank === 0 && stream === "stdout" && line.startsWith("{")) process.stdout.write(`${line}\n`);
      else process.stderr.write(`[${rank}] ${line}\n`);
    },
    log: (m) => process.stderr.write(`weft bench allreduce: ${m}\n`),
  });
  if (result.exitCode === 0) rmSync(runDir, { recursive: true, force: true });
  return result.exitCode;
}
