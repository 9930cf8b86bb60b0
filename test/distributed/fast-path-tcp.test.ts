// Small all-reduces over TCP on the calling thread (executors/fast-executor.ts, Note [fast link
// frames] in native/dist/tcp-fast.h), between real processes: the bits of recursive doubling on
// every rank, frames of the fast links' own size (so the fast path really ran), one numbering of
// collectives across the fast path and the comm thread, and a failure that names the call or
// the rank instead of hanging.
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
          assert.match(row.message as string, new RegExp(`^(rank \\d reported: )?all-reduce #${seq}: rank \\d passed [45] floats, rank \\d passed [45]; every rank must pass buffers of the same size$`));
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

test("ranks whose all-reduce is small on one and large on the other fail within the deadline, the fast ones naming who did not come", async () => {
  const results = await spawnRanks({ worldSize: 2, script: "collectives-worker.js", args: ["fast-cross"] });
  for (const r of results) {
    const row = r.json.find((j) => j.check === "fast-cross");
    assert.ok(row, `rank ${r.rank} reported no outcome:\n${r.stderr}`);
    assert.notEqual(row.error, null, JSON.stringify(row));
    assert.ok((row.ms as number) < 10_000, `took ${row.ms} ms`);
  }
  const fast = results[0]!.json.find((j) => j.check === "fast-cross")!;
  assert.equal(fast.error, "CollectiveTimeoutError", JSON.stringify(fast));
  assert.match(fast.message as string, /^all-reduce #0 did not finish within 2000 ms: rank 1 never arrived/);
});
