// One worker of `weft train <recipe> --workers N`, started by the launcher: joins the process
// group, runs the recipe through the loop with the job's strategy, writes its strategy's report,
// and rank 0 writes the result for the parent command to print.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { initProcessGroup } from "../distributed/group/init.js";
import { ENV } from "../distributed/rendezvous/worker-env.js";
import { findRecipe } from "../recipes/index.js";
import { runRecipe } from "../train/run-recipe.js";
import { findStrategy } from "../train/strategies.js";
import { reportFile, RESULT_FILE, type TrainJob } from "./train-job.js";

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? "null") as TrainJob | null;
  const recipe = job && findRecipe(job.recipe);
  const entry = job && findStrategy(job.strategy);
  if (!job || !recipe || !entry) throw new Error("train-worker: started without a valid job; it is run by `weft train --workers N`");
  const pg = await initProcessGroup();
  const strategy = entry.create(pg, job.strategyOptions);
  try {
    const result = await runRecipe({
      recipe, settings: job.settings, strategy,
      checkpoint: job.checkpoint, resumeFrom: job.resumeFrom,
    });
    const runDir = process.env[ENV.runDir] ?? ".";
    writeFileSync(join(runDir, reportFile(pg.rank)), JSON.stringify(strategy.report()));
    if (pg.rank === 0) writeFileSync(join(runDir, RESULT_FILE), JSON.stringify({ ...result, transport: pg.transport }));
  } finally {
    await pg.destroy();
  }
}

// An error is left uncaught on purpose: the launcher's worker preload marks Node's report of it,
// and the launcher turns that into one line naming the rank (and keeps the stack in the rank's log).
await main();
