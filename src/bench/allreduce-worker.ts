// One worker of `weft bench allreduce` (started by the launcher). Timed like the peer benchmark
// ../peers/gloo_allreduce.py: per size, untimed warm-up calls (more than the peers' 3, see below),
// then repeats that each start after a barrier; rank 0 reports the median on its own clock.
//
// Argument: the settings `weft bench allreduce` checked, as JSON (allreduce-options.ts).
import { initProcessGroup } from "../distributed/group/init.js";
import { HierarchicalProcessGroup } from "../distributed/group/hierarchical-group.js";
import { sharedFloat32Array } from "../distributed/base/shared-buffer.js";
import { decodeAllreduceSettings } from "./allreduce-options.js";
import { median } from "./median.js";

const { sizes, wire, tcp, iters: maxIters, budgetBytes: budget, segmentBytes, smallBytes } = decodeAllreduceSettings(process.argv[2]);

const pg = await initProcessGroup({
  sharedMemory: !tcp,
  ...(segmentBytes === undefined ? {} : { segmentBytes }),
  ...(smallBytes === undefined ? {} : { smallMessageBytes: smallBytes }),
});
for (const bytes of sizes) {
  const buf = sharedFloat32Array(bytes / 4).fill(1);
  const iters = Math.max(5, Math.min(maxIters, Math.floor(budget / bytes)));
  // Warm-up: V8 compiles the call path to machine code only once it has run hot, which takes
  // hundreds of calls; with the peers' 3 the first few hundred timed calls ran on the unoptimised
  // path and moved a 4 KiB median by about 15% (BENCHMARKS.md, "Warming up"). C needs no such
  // warm-up: the peers lose nothing by their 3.
  const warmup = Math.max(3, Math.min(1000, Math.floor(iters / 2)));
  for (let i = 0; i < warmup; i++) await pg.allReduce(buf, { wire });
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    await pg.barrier();
    const t = performance.now();
    await pg.allReduce(buf, { wire });
    times.push(performance.now() - t);
  }
  const ms = median(times);
  const w = pg.worldSize;
  if (pg.rank === 0) {
    const line = {
      bench: "allreduce",
      bytes,
      workers: w,
      transport: pg.transport,
      // On several machines: whether all-reduce went through the hierarchy (scripts/bench-hierarchical.mjs).
      hierarchical: pg instanceof HierarchicalProcessGroup,
      // What was asked for: shared memory ignores it.
      wire,
      iters,
      ms_median: Number(ms.toFixed(4)),
      algbw_gbps: Number((bytes / ms / 1e6).toFixed(3)),
      busbw_gbps: Number(((2 * (w - 1)) / w * bytes / ms / 1e6).toFixed(3)),
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
}
await pg.destroy();
