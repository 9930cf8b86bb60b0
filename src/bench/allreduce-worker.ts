// One worker of `weft bench allreduce` (started by the launcher). Timed exactly like the peer
// benchmark ../peers/gloo_allreduce.py: per size, a few untimed warm-up calls, then repeats that
// each start after a barrier; rank 0 reports the median on its own clock.
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
  for (let i = 0; i < 3; i++) await pg.allReduce(buf, { wire });
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
