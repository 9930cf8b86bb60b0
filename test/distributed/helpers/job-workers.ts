// Finding the worker processes of one job from a test: by their environment (the job's run folder
// and the worker's slot), not by name, since other tests' workers run beside them.
import { existsSync, readFileSync } from "node:fs";
import { jobProcesses } from "../../../src/cli/job-processes.js";
import { join } from "node:path";

/** The pid of the worker of slot `rank` whose WEFT_RUN_DIR is `runDir`, or undefined. */
export function workerPid(runDir: string, rank: number): number | undefined {
  return jobProcesses(runDir).find((p) => p.slot === rank)?.pid;
}

/** Steps the worker of slot `rank` has written to its metrics so far. */
export function stepsWritten(runDir: string, rank: number): number {
  const file = join(runDir, `rank-${rank}.jsonl`);
  if (!existsSync(file)) return 0;
  return readFileSync(file, "utf8").split("\n").filter((l) => l.includes('"loss"')).length;
}

/** Waits until the worker of slot `rank` has taken `steps` steps; returns its pid. */
export async function waitForSteps(runDir: string, rank: number, steps: number, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pid = workerPid(runDir, rank);
    if (pid !== undefined && stepsWritten(runDir, rank) >= steps) return pid;
    if (Date.now() > deadline) throw new Error(`worker ${rank} of ${runDir} did not reach step ${steps} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until the metrics of slot `rank` record generation `generation` formed. */
export async function waitForGeneration(runDir: string, rank: number, generation: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const file = join(runDir, `rank-${rank}.jsonl`);
  const formed = `"event":"generation_formed","generation":${generation},`;
  while (!(existsSync(file) && readFileSync(file, "utf8").includes(formed))) {
    if (Date.now() > deadline) throw new Error(`worker ${rank} of ${runDir} saw no generation ${generation} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
