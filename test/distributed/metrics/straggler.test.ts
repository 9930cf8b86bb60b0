// The straggler score (Note [straggler score] in src/distributed/metrics/straggler.ts), on step
// lines written by hand: who the others wait for, when a rank is named, and when nobody is.
import assert from "node:assert/strict";
import { test } from "node:test";
import { StragglerTracker } from "../../../src/distributed/metrics/straggler.js";

/** Three ranks where the others wait `late` ms for rank `slow` at every step (0.2 ms for the rest). */
function feed(t: StragglerTracker, steps: number[], slow: number, late: number): void {
  for (const s of steps) {
    for (const r of [0, 1, 2]) {
      const waitFor: Record<string, number> = {};
      for (const p of [0, 1, 2]) if (p !== r) waitFor[String(p)] = p === slow ? late : 0.2;
      t.add(r, s, waitFor);
    }
  }
}

test("the rank the others wait for scores their mean wait, and is named once it was the slowest in K steps", () => {
  const t = new StragglerTracker({ window: 10, minSteps: 5, minMs: 1 });
  feed(t, [1, 2, 3, 4], 2, 30);
  assert.equal(t.straggler(), undefined, "four steps are not five");
  assert.deepEqual(t.ranking().map((s) => s.rank), [2, 0, 1]);
  feed(t, [5], 2, 30);
  const named = t.straggler();
  assert.equal(named?.rank, 2);
  assert.equal(named?.slowest_steps, 5);
  assert.ok(Math.abs(named!.score_ms - 30) < 1e-9, `score ${named?.score_ms}`);
  const fast = t.ranking().find((s) => s.rank === 0)!;
  assert.ok(Math.abs(fast.score_ms - 0.2) < 1e-9, "rank 0 costs the others 0.2 ms");
  assert.equal(fast.slowest_steps, 0);
});

test("one slow step names nobody, and a balanced job names nobody", () => {
  const t = new StragglerTracker({ minSteps: 3 });
  feed(t, [1, 2], 0, 0.4);
  feed(t, [3], 1, 50);
  feed(t, [4, 5, 6], 0, 0.4);
  assert.equal(t.straggler(), undefined, "waits under minMs are noise, and one slow step is not three");
  assert.equal(t.ranking()[0]!.rank, 1, "the slow step still shows in the mean");
});

test("a fast rank that is late once does not put off naming the slow one", () => {
  const t = new StragglerTracker({ minSteps: 5 });
  feed(t, [1, 2], 2, 30);
  feed(t, [3], 0, 40); // rank 0 descheduled for one step
  feed(t, [4, 5], 2, 30);
  assert.equal(t.straggler(), undefined, "four steps of five");
  feed(t, [6], 2, 30);
  assert.deepEqual([t.straggler()?.rank, t.straggler()?.slowest_steps], [2, 5]);
});

test("lines in any order count a step only once every rank named has reported it", () => {
  const t = new StragglerTracker({ minSteps: 2 });
  t.add(0, 2, { "1": 20 });
  t.add(0, 1, { "1": 20 });
  assert.deepEqual(t.ranking(), [], "rank 1 has not reported yet");
  t.add(1, 1, { "0": 0 });
  t.add(1, 2, { "0": 0 });
  assert.equal(t.straggler()?.rank, 1);
  assert.equal(t.straggler()?.slowest_steps, 2);
});

test("the straggler changes once another rank costs the others more over the window", () => {
  const t = new StragglerTracker({ window: 5, minSteps: 3 });
  feed(t, [1, 2, 3], 1, 10);
  assert.equal(t.straggler()?.rank, 1);
  feed(t, [4, 5], 0, 10);
  assert.equal(t.straggler()?.rank, 1, "rank 1 still cost more over steps 1-5");
  feed(t, [6], 0, 10);
  assert.equal(t.straggler()?.rank, 0, "over steps 2-6 rank 0 did");
});
