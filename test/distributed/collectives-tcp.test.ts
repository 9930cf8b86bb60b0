// Collectives over TCP between real processes, each rank with its comm thread: the same claims as
// the in-process tests (bitwise sums in the documented order, odd sizes, every collective).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnRanks } from "./helpers/spawn-ranks.js";
import { assertBarrierHeld, checks } from "./helpers/rank-checks.js";

for (const world of [2, 3]) {
  test(`all-reduce over TCP with ${world} ranks equals the documented-order sum, bitwise, on every rank`, async () => {
    const by = checks(await spawnRanks({ worldSize: world, script: "collectives-worker.js", args: ["allreduce"] }));
    assert.equal(by.size, 10);
    for (const [name, rows] of by) {
      assert.equal(rows.length, world, name);
      for (const row of rows) assert.equal(row.ok, true, `${name} on rank ${row.rank}`);
      for (const row of rows) assert.equal(row.transport, "tcp", `${name} on rank ${row.rank}`);
      assert.equal(new Set(rows.map((r) => r.hash)).size, 1, `${name}: ranks differ`);
    }
  });

  test(`reduce-scatter, all-gather, broadcast, barrier, send/recv and several all-reduces in flight over TCP with ${world} ranks`, async () => {
    const by = checks(await spawnRanks({ worldSize: world, script: "collectives-worker.js", args: ["collectives"] }));
    for (const name of ["reduce-scatter", "all-gather", "broadcast", "send-recv", "async"]) {
      const rows = by.get(name) ?? [];
      assert.equal(rows.length, world, name);
      for (const row of rows) assert.equal(row.ok, true, `${name} on rank ${row.rank}`);
    }
    assertBarrierHeld(by.get("barrier"), world);
  });
}

test("segments beyond the staging window wait in the socket and the ring still completes bitwise", async () => {
  const by = checks(await spawnRanks({ worldSize: 3, script: "collectives-worker.js", args: ["window"] }));
  assert.equal(by.size, 2);
  for (const [name, rows] of by) {
    assert.equal(rows.length, 3, name);
    for (const row of rows) assert.equal(row.ok, true, `${name} on rank ${row.rank}`);
    assert.equal(new Set(rows.map((r) => r.hash)).size, 1, name);
  }
});

test("a random mix of 200 collectives on 4 ranks, several in flight, tiny segments and staging", async () => {
  const results = await spawnRanks({ worldSize: 4, script: "stress-worker.js", args: ["200"] });
  for (const r of results) {
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json, [{ rank: r.rank, ok: true, ops: 200, transport: "tcp" }]);
  }
});
