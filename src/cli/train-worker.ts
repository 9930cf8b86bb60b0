// One process of `weft train <recipe> --workers N`, started by the launcher: joins the process
// group, and either trains (ranks 0..N-1: the recipe through the loop with the job's strategy) or,
// for a strategy with servers, serves (the ranks after them). Every rank writes its report
// (strategy fields and bytes moved); rank 0 writes the result for the parent command to print.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { initProcessGroup } from "../distributed/group/init.js";
import { ENV } from "../distributed/rendezvous/worker-env.js";
import { findRecipe } from "../recipes/index.js";
import { buildRecipeParts, runRecipe, type RecipeResult } from "../train/run-recipe.js";
import { findStrategy, type RankReport, type StrategyEntry } from "../train/strategies.js";
import type { Recipe } from "../train/recipe.js";
import type { ProcessGroup } from "../distributed/group/process-group.js";
import type { Strategy } from "../distributed/strategies/strategy.js";
import { ElasticStopError, type ElasticGroup } from "../distributed/elastic/elastic-group.js";
import { initElasticGroup } from "../distributed/elastic/init-elastic.js";
import { MetricsWriter } from "../distributed/metrics/metrics-writer.js";
import { memoryReportFields, reportFile, RESULT_FILE, type TrainJob } from "./train-job.js";
import { memoryLimitOf } from "./train-memory.js";

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? "null") as TrainJob | null;
  const recipe = job && findRecipe(job.recipe);
  const entry = job && findStrategy(job.strategy);
  if (!job || !recipe || !entry) throw new Error("train-worker: started without a valid job; it is run by `weft train --workers N`");
  if (job.elastic) return trainElastic(job, recipe, entry);
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
        ...(job.maxMemory ? { maxMemory: memoryLimitOf(job)! } : {}),
        ...(job.precision === undefined ? {} : { precision: job.precision }),
      });
      report = { ...strategy.report(), bytes_sent: result.bytes_sent, bytes_received: result.bytes_received, ...memoryReportFields(result.memory) };
      if (pg.rank === 0) writeFileSync(join(runDir, RESULT_FILE), JSON.stringify({ ...result, transport: pg.transport }));
    }
    writeFileSync(join(runDir, reportFile(pg.rank)), JSON.stringify(report));
  } finally {
    await pg.destroy();
  }
}

/**
 * A worker of an elastic job (--min/--max): trains through as many generations as it takes. The
 * final generation's rank 0 writes the result; every final member writes its report under its
 * member id, which the result lists.
 */
async function trainElastic(job: TrainJob, recipe: Recipe, entry: StrategyEntry): Promise<void> {
  const runDir = process.env[ENV.runDir] ?? ".";
  const metrics = new MetricsWriter();
  const say = (line: string): void => void process.stderr.write(`weft: elastic: ${line}\n`);
  const memberId = process.env[ENV.memberId] ?? `w${process.env[ENV.rank] ?? 0}`;
  let group: ElasticGroup | undefined;
  try {
    group = await initElasticGroup({
      onEvent: (e) => {
        metrics.write({ step: -1, ...e });
        if (e.event === "excluded") say(`${memberId} was left out of generation ${e.generation} (members ${e.members!.join(", ")}); asking to join again`);
      },
    });
    if (!group) {
      say(`the job finished before ${memberId} could join`);
      return;
    }
    if (group.generation.joined.includes(memberId)) say(`${memberId} joined generation ${group.generation.number} as rank ${group.rank} of ${group.worldSize}`);
    const strategyFor = (pg: ProcessGroup): Strategy => entry.create(pg, job.strategyOptions, pg.worldSize);
    const result = await runRecipe({
      recipe, settings: job.settings, strategy: strategyFor(group.group), metrics,
      elastic: { group, strategyFor }, baseWorkers: job.workers,
      checkpoint: job.checkpoint, resumeFrom: job.resumeFrom,
      ...(job.evaluateEvery === undefined ? {} : { evaluateEvery: job.evaluateEvery }),
      ...(job.maxMemory ? { maxMemory: memoryLimitOf(job)! } : {}),
      ...(job.precision === undefined ? {} : { precision: job.precision }),
    });
    const writesResult = group.rank === 0;
    writeFileSync(join(runDir, reportFile(memberId)), JSON.stringify({ ...pickReport(result), bytes_sent: result.bytes_sent, bytes_received: result.bytes_received, ...memoryReportFields(result.memory) }));
    if (writesResult) {
      writeFileSync(join(runDir, RESULT_FILE), JSON.stringify({ ...result, transport: group.group.transport, final_members: group.generation.members }));
      await group.finish();
    }
  } catch (err) {
    if (!(err instanceof ElasticStopError)) throw err;
    say(err.message);
    // The job itself stopped (too few left): node 0's launcher need not keep its store up for it.
    if (!err.excluded) await group?.finish();
    process.exitCode = err.excluded ? 3 : 4;
  } finally {
    metrics.close();
    await group?.close();
  }
}

/** The strategy's own fields of a result (what report-<member>.json holds, as the fixed-size job's reports do). */
function pickReport(result: RecipeResult): RankReport {
  const out: RankReport = {};
  if (typeof result.digest === "string") out.digest = result.digest;
  return out;
}

// An error is left uncaught on purpose: the launcher's worker preload marks Node's report of it,
// and the launcher turns that into one line naming the rank (and keeps the stack in the rank's log).
await main();
