// What parameter-server workers and servers say to each other, and over which groups.
//
// Ranks. A job of W workers and S servers has W + S processes: the workers are job ranks
// 0..W-1 (so the data shards, the result and the checkpoints belong to the same ranks as in every
// other strategy) and server k, which owns shard k (ps-shards.ts), is job rank W + k.
//
// Channels (Note [one group per worker-server pair]). Every (worker, server) pair talks on a
// two-rank subgroup of its own. A group runs one operation at a time, so one group shared by a
// server's W workers would serialise them: a receive from any worker (recv-any) blocks the
// replies queued behind it. With a group per pair each has its own engine (and, over TCP, its own
// comm thread and socket), so a server receives from all its workers at once and answers each on
// its own, which is what the asynchronous modes need. In each pair group the worker is rank 0 and
// the server rank 1, and the conversation strictly alternates, which keeps each group's queue of
// operations in the order both sides expect:
//
//   server: send(parameters, start step)           the pull of setup(): the server's state
//   worker: recv(parameters)
//   then, once per step:
//   worker: send(gradients, step t)   recv(parameters)
//   server: recv(gradients)           (apply; sync: of every worker; ssp: maybe hold)   send(parameters)
//   and at the end:
//   worker: send(done, last step)     recv(parameters)   the final state, once every worker is done
//
// Messages. Both directions are one Float32Array of HEADER_FLOATS + the shard's size: a header,
// then the shard's tensors flattened in the model's order (Shard.offsets). Fixed sizes mean the
// buffers are allocated once and a "done" is the same length as a gradient (a receive must match
// the size of its send). The header's fields are small integers stored as float32 values, exact
// up to 2^24 (16.7 million steps or updates; checkHeaderCount refuses more), which keeps every
// message a plain float buffer on every transport. Every reply also tells the worker how long its
// next pulls may wait for slower workers (Note [waiting for a slower worker]).
import type { ProcessGroup } from "../group/process-group.js";
import type { Shard } from "./ps-shards.js";
import { describeShard } from "./ps-shards.js";

/** How servers apply the workers' gradients (docs/training.md, "Parameter server"). */
export type PsMode = "sync" | "async" | "ssp";
export const PS_MODES: readonly PsMode[] = ["sync", "async", "ssp"];

/** Floats in front of every message. */
export const HEADER_FLOATS = 8;

// Header fields (indices into the message).
/** What the message is: one of the KIND_ values. */
export const H_KIND = 0;
/**
 * Push: the worker's step the gradient is of (from 1), or for "done" its last step, taken or
 * skipped (a worker that took none names the step its servers started from). Reply: the step it
 * answers; the reply to setup()'s pull: the step the server starts from (a resumed run's, or 0).
 */
export const H_STEP = 1;
/** Reply: updates applied to the shard so far (the version of the parameters that follow). */
export const H_VERSION = 2;
/** Reply: staleness of the gradient just applied (updates between its parameters and it), or -1 when none was. */
export const H_STALENESS = 3;
/** Reply, ssp: this worker's completed steps minus the slowest worker's, when the reply was released. */
export const H_LEAD = 4;
/** Reply: FLAG_ bits. */
export const H_FLAGS = 5;
/**
 * Reply: ms the worker's pull of its next step may take beyond its own deadline, waiting for
 * slower workers (Note [waiting for a slower worker]); 0 when the server has seen no step yet.
 */
export const H_STEP_PATIENCE = 6;
/** Reply: the same for the pull of finish() (the final parameters, sent once every worker is done). */
export const H_FINISH_PATIENCE = 7;

export const KIND_GRADIENT = 1;
export const KIND_DONE = 2;
export const KIND_PARAMETERS = 3;

/** Reply flag (async): the run is over; skip the remaining steps and say "done". */
export const FLAG_STOP = 1;
/** Reply flag: the reply to this worker's next step may wait for slower workers (sync, ssp; more than one worker). */
export const FLAG_STEP_WAITS = 2;
/** Reply flag: the final parameters of its finish() may (every mode, more than one worker). */
export const FLAG_FINISH_WAITS = 4;

/** The largest count a float32 header field holds exactly. */
export const MAX_HEADER_COUNT = 2 ** 24;

export function checkHeaderCount(what: string, n: number): void {
  if (n >= MAX_HEADER_COUNT) {
    throw new RangeError(`parameter server: ${what} reached ${n}, past the ${MAX_HEADER_COUNT} a message header counts exactly; split the run into resumed parts`);
  }
}

// Note [waiting for a slower worker]: a worker's pull may wait for other workers' steps, not only
// for its server: in sync the reply waits for the slowest worker's gradient of the same step; in
// ssp a held reply waits for the slowest worker's next step; and finish()'s final parameters wait
// until every worker is done, which in ssp is up to s steps of the slowest (a worker may finish
// s steps ahead; s + 1 are allowed for), in sync and async one (async: each other worker's step
// in progress, whose reply stops it). A fixed deadline would blame a live server for a straggler, so each
// reply carries the patience for the worker's next waits: PATIENCE_FACTOR times the slower
// workers' steps it may wait for times the longest step cycle the server has seen (the time
// between two gradients of one worker, its waits and checkpoints included), added to the
// worker's own deadline. A dead server is still found at once (its links close: PeerLostError);
// a silent one at that longer deadline, which is bounded (MAX_PATIENCE_MS). Before any step has
// been seen the patience is 0: a straggler whose first step outlasts the deadline times out, as
// it would in DDP's all-reduce.

/** How many times the longest step seen a worker allows per slower-worker step it may wait for. */
export const PATIENCE_FACTOR = 4;
/** The most patience a reply carries (what a header field holds exactly, about 4.7 hours). */
export const MAX_PATIENCE_MS = MAX_HEADER_COUNT - 1;

/** Slower-worker steps a worker's next pull (`step`) and its final pull (`finish`) may wait for, by mode. */
export function slowerWorkerSteps(mode: PsMode, staleness: number, workers: number): { step: number; finish: number } {
  if (workers <= 1) return { step: 0, finish: 0 };
  return { step: mode === "async" ? 0 : 1, finish: mode === "ssp" ? staleness + 1 : 1 };
}

/** The patience (ms) for a wait of `steps` slower-worker steps, the longest step seen being `slowestStepMs`. */
export function patienceMs(steps: number, slowestStepMs: number): number {
  return Math.min(MAX_PATIENCE_MS, Math.ceil(PATIENCE_FACTOR * steps * slowestStepMs));
}

/** A worker or a server of the job is gone, or said something out of turn: the message names the rank and its part. */
export class ParameterServerError extends Error {
  override name = "ParameterServerError";

  constructor(message: string, readonly rank: number, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** "parameter server rank 3 (shard 1: 20736 parameters in 7 tensors)": how messages name a server. */
export function serverName(rank: number, shard: Shard): string {
  return `parameter server rank ${rank} (${describeShard(shard)})`;
}

/** The cause of a failure, as text for a message. */
export function causeText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * Makes the pair group of every (worker, server) pair, on every process of the job, in one fixed
 * order (worker-major), as ProcessGroup.newGroup requires; the calls are all issued before any is
 * awaited, so the pairs connect at the same time. Returns this process's pairs: on a worker the
 * group with each server (index k), on a server the group with each worker (index w).
 */
export async function connectPairs(pg: ProcessGroup, workers: number, servers: number): Promise<ProcessGroup[]> {
  if (pg.worldSize !== workers + servers) {
    throw new RangeError(`parameter server: the group has ${pg.worldSize} ranks, but ${workers} workers and ${servers} servers need ${workers + servers}`);
  }
  const made: Promise<ProcessGroup | null>[] = [];
  for (let w = 0; w < workers; w++) for (let k = 0; k < servers; k++) made.push(pg.newGroup([w, workers + k]));
  const all = await Promise.all(made);
  return all.filter((g): g is ProcessGroup => g !== null);
}

/** Writes the shard's tensors (`values[i]` for shard.params[i]) into a message after its header. */
export function packShard(message: Float32Array, shard: Shard, values: readonly Float32Array[]): void {
  shard.params.forEach((_, i) => message.set(values[i]!, HEADER_FLOATS + shard.offsets[i]!));
}

/** The part of a message that holds shard tensor i. */
export function shardSlice(message: Float32Array, shard: Shard, i: number, size: number): Float32Array {
  const at = HEADER_FLOATS + shard.offsets[i]!;
  return message.subarray(at, at + size);
}
