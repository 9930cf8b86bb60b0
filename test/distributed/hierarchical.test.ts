// The hierarchical all-reduce between real processes on one machine, each told a place on a
// simulated machine (test/distributed/workers/hierarchical-worker.ts): the result on every rank
// has the bits of the documented order, computed here on its own; three machines exercise the
// leaders' ring order, which two machines cannot tell from any other; a layout the hierarchy does
// not fit, or an opt-out, gives the flat group with its reason; the group is chosen alike on every
// rank. Two network namespaces, the launcher and a capped link are in hierarchical-netns.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnRanks, type RankResult } from "./helpers/spawn-ranks.js";
import { checks } from "./helpers/rank-checks.js";
import { assertDocumentedBits } from "./helpers/hierarchical-reference.js";
import { planHierarchy } from "../../src/distributed/group/hierarchy-plan.js";

test("2 machines x 2 ranks: every rank gets the bits of the documented order; other collectives still work", async () => {
  const by = checks(await spawnRanks({ worldSize: 4, script: "hierarchical-worker.js", args: ["bitwise", "2,2"] }));
  for (const row of by.get("group")!) {
    assert.equal(row.hierarchical, true, JSON.stringify(row));
    assert.deepEqual(row.machines, [[0, 1], [2, 3]]);
  }
  assertDocumentedBits(by, [[0, 1], [2, 3]]);
  for (const row of by.get("flight")!) {
    const algorithms = row.algorithms as string[];
    // The user's group records "hierarchical"; the parts record their own steps under their groups.
    assert.ok(algorithms.includes("world#0 hierarchical"), JSON.stringify(row));
    const machine = (row.rank as number) < 2 ? "[0, 1]" : "[2, 3]";
    assert.ok(algorithms.includes(`${machine}#0 shared-memory`), JSON.stringify(row));
    if (row.rank === 0 || row.rank === 2) assert.ok(algorithms.some((a) => a.startsWith("[0, 2]#0 ")), JSON.stringify(row));
  }
  for (const row of by.get("others")!) {
    assert.deepEqual(row.gathered, [0, 1, 2, 3]);
    assert.equal(row.broadcast, 42);
  }
});

test("3 machines x 2 ranks: the leaders combine the machines' sums in the ring's order", async () => {
  const by = checks(await spawnRanks({ worldSize: 6, script: "hierarchical-worker.js", args: ["bitwise", "2,2,2"] }));
  for (const row of by.get("group")!) assert.equal(row.hierarchical, true, JSON.stringify(row));
  assertDocumentedBits(by, [[0, 1], [2, 3], [4, 5]]);
});

test("machines with different numbers of ranks get the flat group, and WEFT_DEBUG=1 says why", async () => {
  const results = await spawnRanks({ worldSize: 3, script: "hierarchical-worker.js", args: ["group", "2,1"], env: { WEFT_DEBUG: "1" } });
  const by = checks(results);
  for (const row of by.get("group")!) {
    assert.equal(row.hierarchical, false, JSON.stringify(row));
    assert.equal(row.transport, "tcp");
  }
  for (const r of results) assert.match(r.stderr, /a flat group, not a hierarchical one: machine 0 has 2 ranks, machine 1 has 1 rank: a hierarchy needs the same number of ranks on every machine/);
});

test("one rank's opt-out (hierarchical: false) makes the whole job flat", async () => {
  // Only rank 3 opts out; the others must still agree with it, or the job would hang.
  const results = await spawnRanks({ worldSize: 4, script: "hierarchical-worker.js", args: ["optout", "2,2"], env: { WEFT_DEBUG: "1" } });
  for (const row of checks(results).get("group")!) assert.equal(row.hierarchical, false, JSON.stringify(row));
  for (const r of results) assert.match(r.stderr, /a flat group, not a hierarchical one: rank 3 asked for it \(hierarchical: false\)/);
});

/** Asserts every survivor's second all-reduce failed with PeerLostError naming `victim`, well before its deadline. */
function assertVictimNamed(results: RankResult[], victim: number): void {
  assert.equal(results[victim]!.signal, "SIGKILL");
  for (const r of results.filter((x) => x.rank !== victim)) {
    assert.equal(r.code, 0, r.stderr);
    const row = r.json.find((j) => j.check === "kill");
    assert.ok(row, `rank ${r.rank} reported no outcome:\n${r.stderr}`);
    assert.equal(row.error, "PeerLostError", JSON.stringify(row));
    assert.deepEqual(row.ranks, [victim], JSON.stringify(row));
    assert.equal(row.seq, 2, "the job's all-reduce #2 (after all-reduce #0 and barrier #1)");
    assert.match(row.message as string, new RegExp(`^all-reduce #2 failed: rank ${victim} lost`));
    // The call's deadline is 30 s: an outcome in under half of it came from the loss itself.
    assert.ok((row.ms as number) < 15_000, `took ${row.ms} ms`);
  }
}

for (const [victim, role] of [[3, "a rank"], [2, "the leader"]] as const) {
  test(`${role} of machine 1 killed: every survivor, on both machines, fails the all-reduce with PeerLostError naming it`, async () => {
    const results = await spawnRanks({ worldSize: 4, script: "hierarchical-worker.js", args: ["kill", "2,2", String(victim)], waitFor: [0, 1, 2, 3].filter((r) => r !== victim) });
    assertVictimNamed(results, victim);
  });
}

test("planHierarchy: the layouts a hierarchy fits, and the reasons for the others", () => {
  const place = (nodeRank: number, localRank: number) => ({ nodeRank, localRank });
  // Machines in node-rank order and ranks in local-rank order, whatever the job's numbering.
  assert.deepEqual(planHierarchy([place(1, 1), place(0, 0), place(1, 0), place(0, 1)]), { kind: "hierarchical", machines: [[1, 3], [2, 0]] });
  const reason = (places: { nodeRank: number; localRank: number }[]) => {
    const plan = planHierarchy(places);
    assert.equal(plan.kind, "flat");
    return (plan as { reason: string }).reason;
  };
  assert.match(reason([place(0, 0), place(0, 1)]), /every rank is on one machine/);
  assert.match(reason([place(0, 0), place(1, 0)]), /each machine has one rank/);
  assert.match(reason([place(0, 0), place(0, 1), place(1, 0), place(1, 0)]), /the local ranks of machine 1 are 0, 0, not 0..1/);
});
