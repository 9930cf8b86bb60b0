// One worker of `weft train mnist --workers N`, started by the launcher: joins the process group,
// wraps the CNN in DDP, trains on its shard, writes a metrics line per step, and rank 0 writes the
// result (evaluated on the whole test split) to the run folder for the parent command to print.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { DistributedSampler, loadMnist } from "../data/index.js";
import { initProcessGroup } from "../distributed/group/init.js";
import { MetricsWriter } from "../distributed/metrics/metrics-writer.js";
import { DistributedDataParallel } from "../distributed/strategies/ddp.js";
import { mnistConfigFrom } from "./mnist-command.js";
import { trainMnist } from "./mnist.js";
import { digestFile, RESULT_FILE } from "./mnist-worker-files.js";

async function main(): Promise<void> {
  const { config, bucketKb } = mnistConfigFrom(process.argv.slice(2));
  const pg = await initProcessGroup();
  const metrics = new MetricsWriter({ rank: pg.rank });
  let ddp: DistributedDataParallel | null = null;
  const sampler = new DistributedSampler(loadMnist().train.length, { rank: pg.rank, worldSize: pg.worldSize, seed: config.seed });
  const result = await trainMnist(
    config,
    (s) => {
      const timing = ddp!.lastTiming;
      const stepMs = s.computeMs + s.waitMs;
      // DDP's wait includes all-reduces that ran inline during backward (shared memory).
      const waitMs = Math.max(s.waitMs, timing.waitMs);
      metrics.write({
        step: s.step, epoch: s.epoch, loss: s.loss,
        samples_per_s: Math.round((1000 * s.samples) / stepMs),
        compute_ms: round(stepMs - waitMs), comm_ms: round(timing.commMs), wait_ms: round(waitMs),
      });
    },
    {
      sampler,
      prepare: async (model) => {
        ddp = await DistributedDataParallel.create(model, pg, bucketKb === undefined ? {} : { bucketBytes: bucketKb * 1024 });
      },
      afterBackward: () => ddp!.finishGradients(),
      // No per-step DDP.allHaveWork agreement: DistributedSampler pads every rank's share to the
      // same length, so all ranks run the same number of steps.
    },
  );
  const digest = ddp!.parameterDigest();
  metrics.close();
  if (pg.rank === 0) {
    writeFileSync(join(process.env.WEFT_RUN_DIR ?? ".", RESULT_FILE), JSON.stringify({ ...result, samples: result.samples * pg.worldSize, samples_per_s: result.samples_per_s * pg.worldSize, transport: pg.transport, digest }));
  } else {
    writeFileSync(join(process.env.WEFT_RUN_DIR ?? ".", digestFile(pg.rank)), digest);
  }
  await pg.destroy();
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
