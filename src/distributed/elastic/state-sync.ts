// After a generation forms, its rank 0 (the member whose state is furthest along, Note [forming a
// generation] in membership.ts) hands every other member what training needs to go on as one
// replica: the parameters and buffers, the optimizer's state, the position in the data and the
// layers' random generator. A joiner has no optimizer state yet (Adam makes its moments at the
// first step), so the names and sizes travel first, in a small header, then one flat vector.
//
// Three broadcasts: the header's length, the header (JSON bytes in a Float32Array), the vector.
import type { Module } from "../../nn/index.js";
import type { Optimizer } from "../../optim/index.js";
import type { ProcessGroup } from "../group/process-group.js";
import { sharedFloat32Array } from "../base/shared-buffer.js";
import { FlatState } from "../strategies/flat-state.js";

/** Where training is: the numbers a replica needs besides its tensors. */
export interface TrainingPosition {
  /** Optimizer steps taken. */
  step: number;
  epoch: number;
  /** Permutation positions of `epoch` consumed (Note [an epoch is a range of permutation positions]). */
  sample: number;
  /** The schedule's clock: steps counted at the first generation's world size. */
  scheduleStep: number;
  /** That world size: the job's, not this worker's first (a joiner's first generation is larger). */
  baseWorld: number;
  /** The layers' random generator (dropout), as its state words. */
  rng: number[];
}

interface Header {
  position: TrainingPosition;
  optimizerStep: number;
  /** Optimizer state buffers, "<param index>.<name>", with their lengths, in vector order. */
  buffers: [string, number][];
}

/**
 * Makes every rank of `pg` hold rank 0's model, optimizer state and position; returns the
 * position. Every rank calls it with its own (rank 0's is the one kept).
 */
export async function syncTrainingState(pg: ProcessGroup, model: Module, optimizer: Optimizer, position: TrainingPosition): Promise<TrainingPosition> {
  const flat = new FlatState(model);
  const own = optimizer.stateDict();
  const header: Header = { position, optimizerStep: own.step, buffers: Object.entries(own.buffers).map(([k, b]) => [k, b.length]) };
  const text = Buffer.from(JSON.stringify(header), "utf8");
  const length = sharedFloat32Array(1);
  length[0] = text.length;
  await pg.broadcast(length, 0);
  const bytes = Number(length[0]);
  const headerBuf = sharedFloat32Array(Math.ceil(bytes / 4));
  if (pg.rank === 0) new Uint8Array(headerBuf.buffer, headerBuf.byteOffset, bytes).set(text);
  await pg.broadcast(headerBuf, 0);
  const theirs = JSON.parse(Buffer.from(headerBuf.buffer, headerBuf.byteOffset, bytes).toString("utf8")) as Header;

  const optimizerFloats = theirs.buffers.reduce((s, [, n]) => s + n, 0);
  const vector = sharedFloat32Array(flat.size + optimizerFloats);
  if (pg.rank === 0) {
    flat.read(vector);
    let at = flat.size;
    for (const [key, n] of theirs.buffers) {
      vector.set(own.buffers[key]!, at);
      at += n;
    }
  }
  await pg.broadcast(vector, 0);
  if (pg.rank !== 0) {
    flat.write(vector);
    const buffers: Record<string, Float32Array> = {};
    let at = flat.size;
    for (const [key, n] of theirs.buffers) {
      buffers[key] = vector.subarray(at, at + n);
      at += n;
    }
    optimizer.loadStateDict({ step: theirs.optimizerStep, buffers });
  }
  return theirs.position;
}
