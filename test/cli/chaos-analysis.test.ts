// weft chaos's reading of a run: faults matched to the failures and generations that followed,
// digests compared per generation, redone steps counted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { analyseChaos } from "../../src/cli/chaos-analysis.js";

const line = (rank: number, time: number, rest: Record<string, unknown>) => ({ rank, time, ...rest });

test("a kill is matched to the failure it caused, the generation that followed and its first step", () => {
  const lines = [
    line(0, 0, { event: "state_synced", generation: 0, step: 0, digest: "a" }),
    line(1, 0, { event: "state_synced", generation: 0, step: 0, digest: "a" }),
    line(0, 50, { step: 5, loss: 1, generation: 0 }),
    line(0, 1060, { event: "failure_seen", generation: 0, step: 9 }),
    line(1, 1070, { event: "failure_seen", generation: 0, step: 10 }),
    line(0, 1400, { event: "state_synced", generation: 1, step: 10, digest: "b" }),
    line(1, 1401, { event: "state_synced", generation: 1, step: 10, digest: "b" }),
    line(0, 1500, { step: 11, loss: 1, generation: 1 }),
  ];
  const a = analyseChaos(lines, [{ kind: "kill", slot: 2, pid: 9, at: 1000 }]);
  assert.deepEqual(a.faults[0], { kind: "kill", slot: 2, pid: 9, at: 1000, detect_ms: 60, reform_ms: 340, first_step_ms: 500 });
  assert.equal(a.reformations, 1);
  assert.equal(a.digest_disagreements, 0);
  // Rank 1 had completed step 10, which is carried on; the step it was in is trained again.
  assert.equal(a.steps_redone, 1);
});

test("members whose digests differ after a re-formation are counted", () => {
  const lines = [
    line(0, 10, { event: "failure_seen", generation: 0, step: 4 }),
    line(1, 11, { event: "failure_seen", generation: 0, step: 4 }),
    line(0, 20, { event: "state_synced", generation: 1, step: 4, digest: "x" }),
    line(1, 21, { event: "state_synced", generation: 1, step: 4, digest: "y" }),
  ];
  const a = analyseChaos(lines, []);
  assert.equal(a.digest_disagreements, 1);
  assert.equal(a.steps_redone, 1);
});

test("a fault nobody noticed (the job had ended) has no times", () => {
  const a = analyseChaos([line(0, 5, { step: 1, loss: 1, generation: 0 })], [{ kind: "stop", slot: 0, pid: 1, at: 100 }]);
  assert.deepEqual(a.faults[0], { kind: "stop", slot: 0, pid: 1, at: 100 });
});
