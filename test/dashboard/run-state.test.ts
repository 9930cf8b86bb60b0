// The dashboard's view of a run folder: the tail reads only what was appended (whole lines, a
// character cut between two writes kept whole), and the state stays small however long the run,
// shows each elastic event once though every rank reports it, and names the step a straggler is
// named from.
import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { MAX_POINTS, RunState } from "../../src/dashboard/run-state.js";
import { RunTail, type TailRecord, type TailSource } from "../../src/dashboard/run-tail.js";

test("RunTail hands over whole lines once, as they are appended, and a character split between writes intact", () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-run-tail-"));
  try {
    const got: [TailSource, TailRecord][] = [];
    const tail = new RunTail(dir, (s, r) => got.push([s, r]));
    assert.equal(tail.poll(), false, "an empty folder");
    const line = Buffer.from(`${JSON.stringify({ step: 1, note: "é" })}\n`);
    const cut = line.indexOf(Buffer.from("é")) + 1; // inside the two bytes of é
    writeFileSync(join(dir, "rank-1.jsonl"), line.subarray(0, cut));
    writeFileSync(join(dir, "other.txt"), "not a run file\n");
    tail.poll();
    assert.equal(got.length, 0, "half a line is kept for later");
    appendFileSync(join(dir, "rank-1.jsonl"), line.subarray(cut));
    appendFileSync(join(dir, "rank-1.jsonl"), "{not json\n");
    writeFileSync(join(dir, "launcher-0.jsonl"), `${JSON.stringify({ event: "job_ended", exit_code: 0 })}\n`);
    tail.poll();
    tail.poll();
    assert.deepEqual([...got].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))), [
      [{ kind: "launcher", node: 0 }, { event: "job_ended", exit_code: 0 }],
      [{ kind: "rank", rank: 1 }, { step: 1, note: "é" }],
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a long run's curve keeps at most MAX_POINTS points, spread over the whole run", () => {
  const state = new RunState("t");
  const steps = MAX_POINTS * 5;
  for (let s = 1; s <= steps; s++) state.add({ kind: "rank", rank: 0 }, { step: s, loss: 1 / s, time: s });
  const points = state.snapshot().points["0"]!;
  assert.ok(points.length <= MAX_POINTS && points.length > MAX_POINTS / 2, `${points.length} points`);
  assert.equal(points[0]![0], 1, "the first step stays");
  assert.ok(points.at(-1)![0] > steps * 0.95, "and the curve reaches the end");
  assert.equal(state.snapshot().workers[0]!.step, steps, "the table shows the newest step");
});

test("membership events every rank reports appear once; a straggler is named with the step it is named from", () => {
  const state = new RunState("t");
  for (const rank of [0, 1]) {
    state.add({ kind: "rank", rank }, { event: "member_lost", step: -1, generation: 2, member: "w2" });
    state.add({ kind: "rank", rank }, { event: "generation_formed", step: -1, generation: 2, members: ["w0", "w1"] });
  }
  // Rank 0 waits 20 ms for rank 1 at every step; rank 1 never waits.
  for (let s = 1; s <= 8; s++) {
    state.add({ kind: "rank", rank: 0 }, { step: s, wait_for: { "1": 20 } });
    state.add({ kind: "rank", rank: 1 }, { step: s, wait_for: { "0": 0 } });
  }
  const timeline = state.snapshot().timeline;
  assert.deepEqual(timeline.filter((e) => e.kind !== "straggler").map((e) => e.text), ["member w2 lost (generation 2)", "generation 2 formed: w0, w1"]);
  const named = timeline.filter((e) => e.kind === "straggler");
  assert.deepEqual(named.map((e) => [e.rank, e.step]), [[1, 5]], "named once the slowest in 5 steps (the tracker's default)");
  assert.ok(state.takeDelta()?.straggler?.named?.rank === 1);
  assert.equal(state.takeDelta(), undefined, "nothing new, no delta");
});
