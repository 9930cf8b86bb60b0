// `weft bench allreduce`: all-reduce latency and bus bandwidth between workers on this machine,
// measured like ../peers/gloo_allreduce.py so the two can be compared line by line.
// Bus bandwidth = 2(n-1)/n × bytes / time: the ring's traffic per worker (nccl-tests' definition).
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { launchJob } from "../distributed/launch/launcher.js";
import { generateSecret } from "../distributed/wire/secret.js";
import { ALLREDUCE_OPTIONS, allreduceArgs, checkAllreduceOptions } from "./allreduce-options.js";

export { ALLREDUCE_BENCH_SIZES } from "./allreduce-options.js";

export const ALLREDUCE_BENCH_USAGE = `usage: weft bench allreduce [--workers N] [--sizes BYTES,...] [--iters N] [--budget-mib N]
                            [--segment-bytes N] [--small-bytes N] [--transport shm|tcp] [--wire f32|bf16|f16]
--transport: shm (default) runs the collectives through shared memory, tcp over loopback sockets.
--wire: the element type all-reduce data travels as over TCP (default f32; bf16 and f16 halve the
bytes and round the sums, see docs/distributed.md; shared memory ignores it).
Bytes are those of the float32 buffer, whatever travels.
Prints one JSON line per size: {"bench":"allreduce","bytes":…,"workers":…,"transport":…,"wire":…,"ms_median":…,"busbw_gbps":…}`;

/** Runs the benchmark (spawning the workers through the launcher) and prints one JSON line per size. */
export async function runAllreduceBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...ALLREDUCE_OPTIONS,
      workers: { type: "string", default: "2" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${ALLREDUCE_BENCH_USAGE}\n`);
    return;
  }
  checkAllreduceOptions(values);
  const args = allreduceArgs(values);
  const result = await launchJob({
    nproc: Number(values.workers),
    nnodes: 1,
    nodeRank: 0,
    rdzvHost: "127.0.0.1",
    rdzvPort: 0,
    secret: generateSecret(),
    script: fileURLToPath(new URL("./allreduce-worker.js", import.meta.url)),
    args,
    graceMs: 2000,
    liveMetrics: false,
    runDir: undefined,
    onLine: (rank, stream, line) => {
      if (rank === 0 && stream === "stdout" && line.startsWith("{")) process.stdout.write(`${line}\n`);
      else process.stderr.write(`[${rank}] ${line}\n`);
    },
  });
  if (result.exitCode !== 0) throw new Error(`weft bench allreduce: a worker failed (exit status ${result.exitCode})`);
}
