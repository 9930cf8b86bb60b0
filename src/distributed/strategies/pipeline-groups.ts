// The groups of pipeline x data parallelism: `dp` pipelines of `stages` consecutive ranks each
// (pipeline d is ranks d·S .. d·S + S - 1, so a pipeline's stages sit next to each other, on one
// machine when ranks fill machines in order), and for each stage the group of its `dp` copies
// (ranks s, S + s, 2S + s, ...), which average that stage's gradients.
//
// newGroup must be called by every member of a subgroup with the same list and in the same order
// relative to its other newGroup calls (group/process-group.ts), so every rank walks the same
// list of subgroups, pipelines first, then stage copies, and keeps the two it belongs to.
import type { ProcessGroup } from "../group/process-group.js";

export interface PipelineGroups {
  /** The ranks of this rank's pipeline, stage s being rank s (the whole group when dp is 1). */
  pipeline: ProcessGroup;
  /** This stage's copies in the other pipelines; undefined when dp is 1. */
  data: ProcessGroup | undefined;
  /** This rank's stage, and which pipeline (the data-parallel index) it belongs to. */
  stage: number;
  replica: number;
  /** Subgroups this call made, for the strategy to destroy at the end. */
  made: ProcessGroup[];
}

/**
 * The rank of stage `stage` of pipeline `replica`, in the job's group.
 *
 * @example Two pipelines of three stages: the second's last stage is rank 5
 * ```ts
 * assert.equal(pipelineRank(1, 2, 3), 5);
 * ```
 */
export function pipelineRank(replica: number, stage: number, stages: number): number {
  return replica * stages + stage;
}

export async function makePipelineGroups(pg: ProcessGroup, stages: number, dp: number): Promise<PipelineGroups> {
  if (stages * dp !== pg.worldSize) {
    throw new RangeError(`pipeline: --stages ${stages} x --dp ${dp} is ${stages * dp} workers, the job has ${pg.worldSize}: make --workers equal to --stages x --dp`);
  }
  const stage = pg.rank % stages;
  const replica = Math.floor(pg.rank / stages);
  const made: ProcessGroup[] = [];
  if (dp === 1) return { pipeline: pg, data: undefined, stage, replica, made };
  let pipeline: ProcessGroup | undefined;
  let data: ProcessGroup | undefined;
  for (let d = 0; d < dp; d++) {
    const g = await pg.newGroup(Array.from({ length: stages }, (_, s) => pipelineRank(d, s, stages)));
    if (g) made.push((pipeline = g));
  }
  for (let s = 0; s < stages; s++) {
    const g = await pg.newGroup(Array.from({ length: dp }, (_, d) => pipelineRank(d, s, stages)));
    if (g) made.push((data = g));
  }
  return { pipeline: pipeline!, data: data!, stage, replica, made };
}
