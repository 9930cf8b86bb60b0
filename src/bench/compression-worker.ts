// One worker of `weft bench compression`, started by `weft launch` on one of the bench's two
// machines: trains the recipe through the same loop `weft train --strategy ddp
// --grad-compression HOOK` runs (runRecipe), and leaves its result, bytes sent included, in its
// run folder for the bench to read (compressionResultFile).
//
// Argument: the job the bench checked, as JSON (compression-options.ts).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { initProcessGroup } from "../distributed/group/init.js";
import { ENV } from "../distributed/rendezvous/worker-env.js";
import { DdpStrategy } from "../distributed/strategies/ddp-strategy.js";
import { findRecipe } from "../recipes/index.js";
import { runRecipe } from "../train/run-recipe.js";
import { decodeCompressionWorkerJob } from "./compression-options.js";
import { compressionResultFile } from "./compression-result.js";

const job = decodeCompressionWorkerJob(process.argv[2]);
const pg = await initProcessGroup();
try {
  const result = await runRecipe({ recipe: findRecipe(job.recipe)!, settings: job.settings, strategy: new DdpStrategy(pg, { gradCompression: job.hook }) });
  writeFileSync(join(process.env[ENV.runDir] ?? ".", compressionResultFile(pg.rank)), JSON.stringify({ ...result, transport: pg.transport }));
} finally {
  await pg.destroy();
}
