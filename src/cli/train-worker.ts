// One process of `weft train <recipe> --workers N`, started by the launcher: joins the process
// group, and either trains (ranks 0..N-1: the recipe through the loop with the job's strategy) or,
// for a strategy with servers, serves (the ranks after them). Every rank writes its report
// (strategy fields and bytes moved); rank 0 writes the result for the parent command to print.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { initProcessGroup } from "../distributed/group/init.js";
import { ENV } from "../distributed/rendezvous/worker-env.js";
import { findRecipe } from "../recipes/index.js";
import { buildRecipeParts, runRecipe } from "../train/run-recipe.js";
import { findStrategy, type RankReport } from "../train/strategies.js";
import { reportFile, RESULT_FILE, type TrainJob } from "./train-job.js";

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? "null") as TrainJob | null;
  const recipe = job && findRecipe(job.recipe);
  const entry = job && findStrategy(job.strategy);
  if (!job || !recipe || !entry) throw new Error("train-worker: started without a valid job; it is run by `weft train --workers N`");
  const pg = await initProcessGroup();
  const runDir = process.env[ENV.runDir] ?? ".";
  try {
    let report: RankReport;
    if (pg.rank >= job.workers) {
      if (!entry.serve) throw new Error(`train-worker: rank ${pg.rank} is past the ${job.workers} workers, but --strategy ${job.strategy} has no servers`);
      report = await entry.serve({
        pg, options: job.strategyOptions, workers: job.workers,
        parts: buildRecipeParts(recipe, job.settings, 0, job.workers),
        // Servers write beside one file only: weft train refuses --checkpoint-dir for them.
        checkpoint: job.checkpoint && "path" in job.checkpoint ? job.checkpoint : undefined, resumeFrom: job.resumeFrom,
      });
    } else {
      const strategy = entry.create(pg, job.strategyOptions, job.workers);
      const result = await runRecipe({
        recipe, settings: job.settings, strategy,
        checkpoint: job.checkpoint, resumeFrom: job.resumeFrom,
        ...(job.evaluateEvery === undefined ? {} : { evaluateEvery: job.evaluateEvery }),
        ...(job.slow?.rank === pg.rank ? { slowdown: job.slow.factor } : {}),
      });
      report = { ...strategy.report(), bytes_sent: result.bytes_sent, bytes_received: result.bytes_received };
      if (pg.rank === 0) writeFileSync(join(runDir, RESULT_FILE), JSON.stringify({ ...result, transport: pg.transport }));
    }
    writeFileSync(join(runDir, reportFile(pg.rank)), JSON.stringify(report));
  } finally {
    await pg.destroy();
  }
}

// An error is left uncaught on purpose: the launcher's worker preload marks Node's report of it,
// and the launcher turns that into one line naming the rank (and keeps the stack in the rank's log).
await main();
