// The schedules' structure, without clocks: every stage's op list runs without deadlock under the
// rules a stage lives by (Note [deadlock-free in order]); with equal stages each stage idles
// exactly (S - 1) / (M + S - 1) of the step in GPipe and in 1F1B; 1F1B's warm-up, steady state
// and cool-down are Megatron's; 1F1B holds min(S - s, M) micro-batches on stage s, GPipe M; both
// run the backwards in micro-batch order (which makes them train the same bits).
import assert from "node:assert/strict";
import { test } from "node:test";
import { gpipeBubble, peakLive, simulateOpLists, simulatePipeline, stageOps, PIPELINE_SCHEDULES } from "../../../src/distributed/strategies/pipeline-schedule.js";

const close = (a: number, b: number): boolean => Math.abs(a - b) < 1e-12;

test("every stage's op list holds each micro-batch's forward before its backward, once each, backwards in order", () => {
  for (const schedule of PIPELINE_SCHEDULES) {
    for (let stages = 1; stages <= 6; stages++) {
      for (let m = 1; m <= 9; m++) {
        for (let s = 0; s < stages; s++) {
          const ops = stageOps(schedule, s, stages, m);
          assert.equal(ops.length, 2 * m);
          const backwards = ops.filter((o) => o.kind === "backward").map((o) => o.microBatch);
          assert.deepEqual(backwards, Array.from({ length: m }, (_, i) => i), `${schedule} S=${stages} M=${m} stage ${s}`);
          for (let i = 0; i < m; i++) {
            assert.ok(ops.findIndex((o) => o.kind === "forward" && o.microBatch === i) < ops.findIndex((o) => o.kind === "backward" && o.microBatch === i));
          }
        }
      }
    }
  }
});

test("with equal stages, every stage of GPipe and 1F1B idles (S - 1) / (M + S - 1) of the step, and nothing deadlocks", () => {
  for (const schedule of PIPELINE_SCHEDULES) {
    for (let stages = 1; stages <= 6; stages++) {
      for (let m = 1; m <= 9; m++) {
        // Backward twice the forward, as for a linear layer; the formula holds for any ratio.
        const sim = simulatePipeline(schedule, stages, m, { forward: Array(stages).fill(1), backward: Array(stages).fill(2) });
        assert.equal(sim.span, 3 * (m + stages - 1), `${schedule} S=${stages} M=${m}`);
        for (const b of sim.bubble) assert.ok(close(b, gpipeBubble(stages, m)), `${schedule} S=${stages} M=${m}: ${b} vs ${gpipeBubble(stages, m)}`);
      }
    }
  }
});

test("an uneven pipeline runs at its slowest stage's pace: the faster stages idle more", () => {
  const sim = simulatePipeline("1f1b", 2, 8, { forward: [1, 2], backward: [2, 4] });
  assert.ok(sim.bubble[0]! > sim.bubble[1]!, `${sim.bubble}`);
  assert.equal(sim.busy[1], 8 * 6);
  assert.ok(sim.span >= 8 * 6 + 3, "the slow stage's work plus stage 0's first forward and last backward");
});

test("1F1B is Megatron's: S - s - 1 warm-up forwards, one forward one backward, then the cool-down", () => {
  const name = (s: number): string => stageOps("1f1b", s, 4, 6).map((o) => `${o.kind[0]}${o.microBatch}`).join(" ");
  assert.equal(name(0), "f0 f1 f2 f3 b0 f4 b1 f5 b2 b3 b4 b5");
  assert.equal(name(2), "f0 f1 b0 f2 b1 f3 b2 f4 b3 f5 b4 b5");
  assert.equal(name(3), "f0 b0 f1 b1 f2 b2 f3 b3 f4 b4 f5 b5");
  // Fewer micro-batches than the warm-up: all forwards, then all backwards.
  assert.equal(stageOps("1f1b", 0, 4, 2).map((o) => `${o.kind[0]}${o.microBatch}`).join(" "), "f0 f1 b0 b1");
});

test("1F1B holds min(S - s, M) micro-batches on stage s; GPipe holds all M", () => {
  for (let stages = 1; stages <= 6; stages++) {
    for (let m = 1; m <= 9; m++) {
      for (let s = 0; s < stages; s++) {
        assert.equal(peakLive(stageOps("1f1b", s, stages, m)), Math.min(stages - s, m));
        assert.equal(peakLive(stageOps("gpipe", s, stages, m)), m);
      }
    }
  }
});

test("an order that deadlocks is refused by the simulation, naming where each stage stopped", () => {
  // Not a schedule of ours (stageOps cannot make one): stage 0 starts with micro-batch 1's
  // forward and stage 1 with micro-batch 0's backward... which waits for nothing it will get.
  const f = (i: number) => ({ kind: "forward" as const, microBatch: i });
  const b = (i: number) => ({ kind: "backward" as const, microBatch: i });
  const lists = [[f(0), b(0), f(1), b(1)], [f(1), b(1), f(0), b(0)]];
  assert.throws(() => simulateOpLists(lists, 2, { forward: [1, 1], backward: [1, 1] }), /deadlock with 2 stages .*stage 0 at backward 0, stage 1 at forward 1/);
});
