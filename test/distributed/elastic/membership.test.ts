// Who is in the next generation: the rule (chooseMembers) on its own, then the protocol through a
// real store with several members deciding at once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chooseMembers, formNextGeneration, joinRequests, joinRunningJob, publishFirstGeneration, type Generation } from "../../../src/distributed/elastic/membership.js";
import { withStore } from "../helpers/with-store.js";

const limits = { min: 1, max: 8 };

test("a worker cut off from everyone is left out; the live neighbour that waited on it stays", () => {
  const previous = ["w0", "w1", "w2"];
  // w2 is cut off but reached the store: it suspects both others, both suspect it.
  const { members } = chooseMembers(previous, [
    { id: "w2", step: 7, suspects: ["w0", "w1"] },
    { id: "w0", step: 7, suspects: ["w2"] },
    { id: "w1", step: 7, suspects: ["w2"] },
  ], limits);
  assert.deepEqual(members, ["w0", "w1"]);
});

test("the member furthest along comes first (its state is carried on); the others keep their order, joiners last", () => {
  const { members } = chooseMembers(["w0", "w1", "w2", "w3"], [
    { id: "j1", step: -1, suspects: [] },
    { id: "w3", step: 9, suspects: ["w1"] },
    { id: "w0", step: 8, suspects: ["w1"] },
    { id: "w2", step: 9, suspects: [] },
  ], limits);
  assert.deepEqual(members, ["w2", "w0", "w3", "j1"]);
});

test("two members that cannot reach each other: one of them goes, not both", () => {
  const { members } = chooseMembers(["w0", "w1", "w2"], [
    { id: "w0", step: 3, suspects: ["w1"] },
    { id: "w1", step: 3, suspects: ["w0"] },
    { id: "w2", step: 3, suspects: [] },
  ], limits);
  assert.deepEqual(members, ["w0", "w2"]);
});

test("at most --max are taken, and fewer than --min stops the job naming who is left", () => {
  const candidates = ["w0", "w1", "w2"].map((id) => ({ id, step: 1, suspects: [] }));
  assert.deepEqual(chooseMembers(["w0", "w1", "w2"], candidates, { min: 1, max: 2 }).members, ["w0", "w1"]);
  const stop = chooseMembers(["w0", "w1", "w2"], candidates.slice(0, 1), { min: 2, max: 3 });
  assert.match(stop.stopped!, /only 1 worker\(s\) are left \(w0\), fewer than --min 2/);
});


test("survivors of a lost member agree on one generation, and a joiner gets into the next", async () => {
  await withStore(async (connect) => {
    const [a, b, c, d] = await Promise.all([connect(), connect(), connect(), connect()]);
    const g0 = await publishFirstGeneration(a!, ["w0", "w1", "w2"]);
    // w1 was lost; w0 and w2 stand at once, with different steps (w2's all-reduce completed).
    const t0 = performance.now();
    const [x, y] = await Promise.all([
      formNextGeneration(a!, g0, { id: "w0", step: 4, suspects: ["w1"] }, { ...limits, joinWindowMs: 3000 }),
      formNextGeneration(c!, g0, { id: "w2", step: 5, suspects: ["w1"] }, { ...limits, joinWindowMs: 3000 }),
    ]);
    assert.deepEqual(x, y);
    assert.deepEqual(x.members, ["w2", "w0"]);
    assert.deepEqual(x.lost, ["w1"]);
    assert.ok(performance.now() - t0 < 2000, "everyone expected came: no need to wait out the window");

    // A joiner asks; the members see the request and re-form with it (as after an abort: no one lost).
    const joined = joinRunningJob(d!, { id: "j0", step: -1, suspects: [] }, 10_000);
    for (let t = 0; (await joinRequests(a!, 1)) === 0; t++) {
      assert.ok(t < 200, "the join request never showed");
      await new Promise((r) => setTimeout(r, 10));
    }
    const [p, q] = await Promise.all([
      formNextGeneration(a!, x, { id: "w0", step: 6, suspects: [] }, limits),
      formNextGeneration(c!, x, { id: "w2", step: 6, suspects: [] }, limits),
    ]);
    const j = (await joined) as Generation;
    assert.deepEqual(p, q);
    assert.deepEqual(j, p);
    assert.deepEqual(p.members, ["w2", "w0", "j0"]);
    assert.deepEqual(p.joined, ["j0"]);
    void b;
  });
});

test("a member that never stands is left out when the window closes", async () => {
  await withStore(async (connect) => {
    const [a] = await Promise.all([connect()]);
    const g0 = await publishFirstGeneration(a!, ["w0", "w1"]);
    const t0 = performance.now();
    // w1 froze without w0 noticing who (an abort named nobody): w0 waits the window, then goes alone.
    const g1 = await formNextGeneration(a!, g0, { id: "w0", step: 2, suspects: [] }, { ...limits, joinWindowMs: 300 });
    assert.deepEqual(g1.members, ["w0"]);
    assert.deepEqual(g1.lost, ["w1"]);
    assert.ok(performance.now() - t0 >= 290);
  });
});
