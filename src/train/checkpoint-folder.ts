// A folder of a run's checkpoints: `step-<n>.safetensors`, one per checkpoint, the last `keep`
// kept. What the folder promises and how:
//
// - Never half a checkpoint under a real name: each file is written by saveCheckpoint (a hidden
//   temporary beside it, fsync, rename, fsync of the folder), and carries SHA-256 digests of its
//   header and data that every load checks.
// - Leftovers of a killed save (`.step-<n>.safetensors.tmp-<pid>-<hex>`) are never read; the next
//   run that writes to the folder removes them before its first step (removeStaleTemporaries).
// - Older files are deleted only after a newer one is durable (pruneCheckpoints runs after the
//   write's rename and folder fsync), so a kill at any moment leaves at least one good file once
//   the first has been written.
// - A resume takes the newest file that verifies; a damaged one is named in a warning and the one
//   before it is tried (loadNewestCheckpoint). A file that verifies but does not fit the model or
//   the run is an error, not a reason to go further back: an older file would not fit either.
//
// - A sharded strategy's checkpoint is one file per rank (src/train/sharded-checkpoint.ts); a
//   step counts once all of its files are there (Note [a sharded checkpoint is complete]).
//
// The folder belongs to one run: a fresh run (no resume) refuses a folder that already holds
// checkpoints, so a later resume can never pick up another run's files.
import { mkdirSync, accessSync, constants, readdirSync, statSync } from "node:fs";
import { rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { CheckpointError, temporaryTargetOf } from "../checkpoint/index.js";
import { loadShardedCheckpoint, SHARD_FILE, shardFileName } from "./sharded-checkpoint.js";
import { loadTrainingCheckpoint, type TrainingState } from "./training-checkpoint.js";

const STEP_FILE = /^step-(\d+)\.safetensors$/;

/** A step's checkpoint in a folder: one file, or a sharded one's files (those present, by rank). */
export interface StepCheckpoint {
  step: number;
  /** The file; for a sharded checkpoint, its first file present (for messages). */
  path: string;
  /** A sharded checkpoint: the files present, indexed by rank, and how many ranks wrote it. */
  shards?: { paths: (string | undefined)[]; of: number };
}

/** The file of the checkpoint at `step` in `dir`. */
export function stepCheckpointPath(dir: string, step: number): string {
  return join(dir, `step-${step}.safetensors`);
}

/** The checkpoints in `dir`, newest (highest step) first; none for a missing folder. */
export function listStepCheckpoints(dir: string): StepCheckpoint[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const byStep = new Map<number, StepCheckpoint>();
  for (const name of names.sort()) {
    const whole = STEP_FILE.exec(name);
    if (whole) {
      byStep.set(Number(whole[1]), { step: Number(whole[1]), path: join(dir, name) });
      continue;
    }
    const shard = SHARD_FILE.exec(name);
    if (!shard) continue;
    const [step, rank, of] = [Number(shard[1]), Number(shard[2]), Number(shard[3])];
    const entry = byStep.get(step) ?? { step, path: join(dir, name), shards: { paths: [], of } };
    if (!entry.shards || entry.shards.of !== of || rank >= of) continue; // a whole file, or another world size, wins: not one set
    entry.shards.paths[rank] = join(dir, name);
    byStep.set(step, entry);
  }
  return [...byStep.values()].sort((a, b) => b.step - a.step);
}

/** The file rank `rank` of `world` writes into `dir` for the checkpoint at `step`. */
export function shardCheckpointPath(dir: string, step: number, rank: number, world: number): string {
  return join(dir, shardFileName(step, rank, world));
}

/**
 * Why a single checkpoint file could not be written at `path` (its folder is missing or read-only), or
 * undefined when it can: checked before the first step, not found after the last.
 */
export function checkpointFileProblem(path: string): string | undefined {
  const dir = dirname(resolve(path));
  try {
    accessSync(dir, constants.W_OK);
    return undefined;
  } catch {
    return `the folder ${dir} does not exist or is not writable; create it first`;
  }
}

/**
 * Why checkpoints cannot be written to the folder `dir` (it cannot be created or is read-only),
 * or undefined when they can. Creates the folder when it is missing.
 */
export function checkpointDirProblem(dir: string): string | undefined {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    return undefined;
  } catch (error) {
    return `the folder ${resolve(dir)} cannot be created or is not writable (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); choose another`;
  }
}

/**
 * Removes the temporary files killed saves left in `dir`: every one made for a step checkpoint
 * (`forName` undefined), or for the file named `forName`. Returns how many and their bytes.
 */
export async function removeStaleTemporaries(dir: string, forName?: string): Promise<{ files: number; bytes: number }> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return { files: 0, bytes: 0 };
  }
  let files = 0;
  let bytes = 0;
  for (const name of names) {
    const target = temporaryTargetOf(name);
    if (target === undefined || (forName === undefined ? !(STEP_FILE.test(target) || SHARD_FILE.test(target)) : target !== forName)) continue;
    const path = join(dir, name);
    try {
      bytes += statSync(path).size;
      await rm(path, { force: true });
      files++;
    } catch {
      // Gone already (another cleaner); nothing to count.
    }
  }
  return { files, bytes };
}

/** The stale-temporary cleanup of a single checkpoint file's folder (`--checkpoint PATH`). */
export function removeStaleTemporariesOf(path: string): Promise<{ files: number; bytes: number }> {
  return removeStaleTemporaries(dirname(resolve(path)), basename(path));
}

/**
 * After the checkpoint at `step` is durable: deletes the files before it beyond the newest
 * `keep` (it included). Files after `step` are left: they are the damaged ones a resume went
 * past, and are overwritten when the run reaches their step. A rank of a sharded checkpoint
 * (`shard`) deletes only its own files (Note [a sharded checkpoint is complete]).
 */
export async function pruneCheckpoints(dir: string, keep: number, step: number, shard?: { rank: number }): Promise<void> {
  const older = listStepCheckpoints(dir).filter((c) => c.step < step && (shard ? c.shards?.paths[shard.rank] !== undefined : !c.shards));
  for (const c of older.slice(Math.max(0, keep - 1))) await rm(shard ? c.shards!.paths[shard.rank]! : c.path, { force: true });
}

/**
 * Loads the newest checkpoint in `dir` that verifies into `state`. A damaged one (a CheckpointError:
 * a bad digest, a truncated file) is reported through `warn` and the one before it tried; none at
 * all, or none that verifies, throws one line.
 */
export async function loadNewestCheckpoint(
  dir: string, state: TrainingState, warn: (line: string) => void,
): Promise<{ path: string; step: number; config: unknown }> {
  const found = listStepCheckpoints(dir);
  if (found.length === 0) {
    throw new CheckpointError(`cannot resume: ${resolve(dir)} holds no checkpoint (step-<n>.safetensors); start without resuming`, { source: dir });
  }
  const reasons: string[] = [];
  for (const [i, c] of found.entries()) {
    try {
      if (c.shards) {
        const present = c.shards.paths.filter((p) => p !== undefined).length;
        if (present < c.shards.of) {
          throw new CheckpointError(`it has ${present} of its ${c.shards.of} shard files (a save was interrupted)`, { source: c.path });
        }
        const loaded = await loadShardedCheckpoint(c.shards.paths as string[], state);
        return { path: c.path, ...loaded };
      }
      const loaded = await loadTrainingCheckpoint(c.path, state);
      return { path: c.path, ...loaded };
    } catch (error) {
      if (!(error instanceof CheckpointError)) throw error;
      const reason = error.message.replace(/\s+/g, " ");
      reasons.push(`${basename(c.path)}: ${reason}`);
      const next = found[i + 1];
      if (next) warn(`checkpoint ${c.path} is damaged, resuming from ${basename(next.path)} instead: ${reason}`);
    }
  }
  throw new CheckpointError(`cannot resume: no checkpoint in ${resolve(dir)} verifies (${reasons.join("; ")}); start without resuming`, { source: dir });
}
