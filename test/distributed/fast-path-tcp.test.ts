// Small all-reduces over TCP on the calling thread (executors/fast-executor.ts, Note [fast link
// frames] in native/dist/tcp-fast.h), between real processes: the bits of recursive doubling on
// every rank, frames of the fast links' own size (so the fast path really ran), one numbering of
// collectives across the fast path and the comm thread, and calls that differ, on one path or
// across the two, failing at once with a mismatch that names both.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnRanks } from "./helpers/spawn-ranks.js";
import { checks } from "./helpers/rank-checks.js";

for (const world of [2, 3, 4, 5]) {
  test(`fast all-reduces over TCP with ${world} ranks: recursive doubling's bits on every rank, on the fast links, one numbering with the comm thread`, async () => {
    const by = checks(await spawnRanks({ worldSize: world, script: "collectives-worker.js", args: ["fast"] }));
    const sizes = world === 2 ? 4 : 3;
    assert.equal(by.size, 2 * sizes + 1);
    for (const [name, rows] of by) {
      assert.equal(rows.length, world, name);
      if (name === "fast numbering") {
        const seq = 2 * sizes + 2;
        for (const row of rows) {
          assert.equal(row.error, "CollectiveMismatchError", JSON.stringify(row));
          // Its own finding, a peer's report, or (a rank that got there after the report) a refusal quoting it.
          assert.match(row.message as string, new RegExp(`all-reduce #${seq}: rank \\d passed [45] floats, rank \\d passed [45]; every rank must pass buffers of the same size\\)?$`));
        }
        continue;
      }
      for (const row of rows) {
        assert.equal(row.transport, "tcp");
        assert.equal(row.ok, true, `${name} on rank ${row.rank}`);
        assert.equal(row.fastFrames, true, `${name} on rank ${row.rank}: not the fast links' traffic`);
      }
      assert.equal(new Set(rows.map((r) => r.hash)).size, 1, `${name}: ranks differ`);
    }
  });
}

test("ranks whose all-reduce is small on one and large on the other fail at once with a mismatch naming both sizes", async () => {
  const results = await spawnRanks({ worldSize: 2, script: "collectives-worker.js", args: ["fast-cross"] });
  for (const r of results) {
    const row = r.json.find((j) => j.check === "fast-cross");
    assert.ok(row, `rank ${r.rank} reported no outcome:\n${r.stderr}`);
    assert.equal(row.error, "CollectiveMismatchError", JSON.stringify(row));
    assert.match(row.message as string, /all-reduce #0: rank [01] passed (3|524288) floats, rank [01] passed (3|524288); every rank must pass buffers of the same size$/);
    // Well before the call's 2 s deadline: the fast rank read the other's announcement where it waited for data.
    assert.ok((row.ms as number) < 1500, `took ${row.ms} ms`);
  }
});
