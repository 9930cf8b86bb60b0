// bf16 and f16 on the wire between real processes over TCP (each rank with its comm thread and the
// native conversions when the addon is built): the documented rounding bit for bit, one hash on
// every rank, the documented precision, and mismatched options failing on every rank.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnRanks } from "./helpers/spawn-ranks.js";
import { checks } from "./helpers/rank-checks.js";

for (const world of [2, 3]) {
  test(`bf16 and f16 all-reduce over TCP with ${world} ranks: documented rounding, bitwise, one hash on every rank`, async () => {
    const by = checks(await spawnRanks({ worldSize: world, script: "collectives-worker.js", args: ["wire"] }));
    assert.equal(by.size, 12); // 2 wire types × 3 sizes × sum/avg
    for (const [name, rows] of by) {
      assert.equal(rows.length, world, name);
      for (const row of rows) assert.equal(row.transport, "tcp", `${name} on rank ${row.rank}`);
      for (const row of rows) assert.equal(row.ok, true, `${name} on rank ${row.rank}: ${JSON.stringify(row)}`);
      assert.equal(new Set(rows.map((r) => r.hash)).size, 1, `${name}: ranks differ`);
    }
  });
}

test("ranks asking for different wire types over TCP all get CollectiveMismatchError", async () => {
  const by = checks(await spawnRanks({ worldSize: 3, script: "collectives-worker.js", args: ["wire-mismatch"] }));
  const rows = by.get("wire-mismatch")!;
  assert.equal(rows.length, 3);
  for (const row of rows) {
    assert.equal(row.error, "CollectiveMismatchError", JSON.stringify(row));
    assert.match(row.message as string, /asked for (bf16|f16) on the wire, rank \d for (f16|bf16)/);
    assert.equal(row.seq, 0);
  }
});
