// The order in which one pipeline stage runs the forwards and backwards of a step's micro-batches,
// for the two schedules `--schedule` names, and a simulation of a whole pipeline running them.
//
//   gpipe  (Huang et al. 2019) every forward, then every backward: simple, and each stage holds
//          all M micro-batches' activations at the turn.
//   1f1b   (PipeDream-Flush, Narayanan et al. 2021; Megatron-LM's schedule without interleaving)
//          stage s of S runs min(S - s - 1, M) warm-up forwards, then alternates one forward and
//          one backward, then finishes the backwards left (cool-down). It flushes at the end of the
//          step as GPipe does, so the bubble is the same, but stage s holds at most min(S - s, M)
//          micro-batches at once instead of M.
//
// Both schedules run the backwards in micro-batch order 0..M-1, so every parameter's gradient is
// summed over the micro-batches in the same order whichever schedule runs: gpipe and 1f1b train
// bit for bit the same model (the tests check it), and both equal one process accumulating the
// micro-batches' gradients in that order.
//
// Note [deadlock-free in order]
// A stage runs its list strictly in order, and each op blocks only on a receive: a forward on the
// previous stage's activation, a backward on the next stage's gradient. Sends are eager (they
// complete without the receiver), so a list order can only deadlock if two stages each wait for
// something the other sends later in its own list. simulatePipeline below runs the lists under
// exactly those rules and throws if they ever stop; the tests run it for many (S, M).

export type PipelineSchedule = "gpipe" | "1f1b";

export const PIPELINE_SCHEDULES: readonly PipelineSchedule[] = ["gpipe", "1f1b"];

/** One thing a stage does in a step: the forward or the backward of micro-batch `microBatch`. */
export interface PipelineOp {
  kind: "forward" | "backward";
  microBatch: number;
}

/**
 * What stage `stage` of `stages` runs in a step of `microBatches` micro-batches, in order.
 *
 * @example 1F1B on the first of two stages with four micro-batches
 * ```ts
 * const ops = stageOps("1f1b", 0, 2, 4).map((op) => `${op.kind[0]}${op.microBatch}`);
 * assert.deepEqual(ops, ["f0", "f1", "b0", "f2", "b1", "f3", "b2", "b3"]);
 * assert.deepEqual(stageOps("gpipe", 0, 2, 2).map((op) => `${op.kind[0]}${op.microBatch}`), ["f0", "f1", "b0", "b1"]);
 * ```
 */
export function stageOps(schedule: PipelineSchedule, stage: number, stages: number, microBatches: number): PipelineOp[] {
  const f = (microBatch: number): PipelineOp => ({ kind: "forward", microBatch });
  const b = (microBatch: number): PipelineOp => ({ kind: "backward", microBatch });
  const all = Array.from({ length: microBatches }, (_, i) => i);
  if (schedule === "gpipe") return [...all.map(f), ...all.map(b)];
  const warmup = Math.min(stages - stage - 1, microBatches);
  const steady = microBatches - warmup;
  const ops = all.slice(0, warmup).map(f);
  for (let i = 0; i < steady; i++) ops.push(f(warmup + i), b(i));
  for (let i = steady; i < microBatches; i++) ops.push(b(i));
  return ops;
}

/**
 * The bubble of a GPipe (or 1F1B) pipeline with equal stages: each stage idles for S - 1 of the
 * M + S - 1 slots of a step, (S - 1) / (M + S - 1).
 *
 * @example
 * ```ts
 * assert.equal(gpipeBubble(2, 4), 0.2);
 * assert.equal(gpipeBubble(1, 8), 0);
 * ```
 */
export function gpipeBubble(stages: number, microBatches: number): number {
  return (stages - 1) / (microBatches + stages - 1);
}

/**
 * The most micro-batches a stage's op list holds at once (forwarded, not yet backwarded).
 *
 * @example 1F1B's first stage of four holds four micro-batches, GPipe's all eight
 * ```ts
 * assert.equal(peakLive(stageOps("1f1b", 0, 4, 8)), 4);
 * assert.equal(peakLive(stageOps("gpipe", 0, 4, 8)), 8);
 * ```
 */
export function peakLive(ops: readonly PipelineOp[]): number {
  let live = 0, peak = 0;
  for (const op of ops) {
    live += op.kind === "forward" ? 1 : -1;
    peak = Math.max(peak, live);
  }
  return peak;
}

/** A simulated step: when it ends, and each stage's idle time and bubble. */
export interface SimulatedStep {
  /** When the last op of any stage ends, every stage having started at 0. */
  span: number;
  /** Per stage: the time it spent computing, and idle (span - busy), and idle / span. */
  busy: number[];
  idle: number[];
  bubble: number[];
}

/**
 * Runs every stage's op list under the rules of Note [deadlock-free in order], with each forward
 * of stage s taking `forward[s]` and each backward `backward[s]` (communication free), and says
 * how long the step took and how long each stage waited. Throws if the lists deadlock.
 *
 * @example Two equal stages, four micro-batches: each idles 1 of 5 slots
 * ```ts
 * const sim = simulatePipeline("gpipe", 2, 4, { forward: [1, 1], backward: [2, 2] });
 * assert.equal(sim.span, 15);
 * assert.deepEqual(sim.bubble, [0.2, 0.2]);
 * ```
 */
export function simulatePipeline(
  schedule: PipelineSchedule, stages: number, microBatches: number, cost: { forward: readonly number[]; backward: readonly number[] },
): SimulatedStep {
  return simulateOpLists(Array.from({ length: stages }, (_, s) => stageOps(schedule, s, stages, microBatches)), microBatches, cost);
}

/** simulatePipeline for any op lists (one per stage, over `microBatches` micro-batches): what a proposed schedule would do. */
export function simulateOpLists(
  lists: readonly (readonly PipelineOp[])[], microBatches: number, cost: { forward: readonly number[]; backward: readonly number[] },
): SimulatedStep {
  const stages = lists.length;
  const forwardEnd = Array.from({ length: stages }, () => new Array<number | undefined>(microBatches));
  const backwardEnd = Array.from({ length: stages }, () => new Array<number | undefined>(microBatches));
  const next = new Array<number>(stages).fill(0);
  const free = new Array<number>(stages).fill(0);
  const busy = new Array<number>(stages).fill(0);
  let left = lists.reduce((n, l) => n + l.length, 0);
  while (left > 0) {
    let moved = false;
    for (let s = 0; s < stages; s++) {
      const op = lists[s]![next[s]!];
      if (!op) continue;
      const i = op.microBatch;
      // What this op receives: the activation from s - 1, or the gradient from s + 1.
      const needs = op.kind === "forward" ? (s > 0 ? forwardEnd[s - 1]![i] : 0) : s < stages - 1 ? backwardEnd[s + 1]![i] : 0;
      if (needs === undefined) continue;
      const took = op.kind === "forward" ? cost.forward[s]! : cost.backward[s]!;
      const end = Math.max(free[s]!, needs) + took;
      (op.kind === "forward" ? forwardEnd : backwardEnd)[s]![i] = end;
      free[s] = end;
      busy[s]! += took;
      next[s]!++;
      left--;
      moved = true;
    }
    if (!moved) {
      const stuck = lists.map((l, s) => (l[next[s]!] ? `stage ${s} at ${l[next[s]!]!.kind} ${l[next[s]!]!.microBatch}` : `stage ${s} done`));
      throw new Error(`simulatePipeline: the op lists deadlock with ${stages} stages and ${microBatches} micro-batches (${stuck.join(", ")})`);
    }
  }
  const span = Math.max(...free);
  const idle = busy.map((b) => span - b);
  return { span, busy, idle, bubble: idle.map((i) => i / span) };
}
