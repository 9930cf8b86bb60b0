// The comm thread: sockets keep moving while the main thread is stuck in synchronous work.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnRanks } from "./helpers/spawn-ranks.js";
import { checks } from "./helpers/rank-checks.js";

test("communication progresses while the main thread is blocked in a long synchronous call", async () => {
  const by = checks(await spawnRanks({ worldSize: 2, script: "collectives-worker.js", args: ["overlap"] }));
  const rows = by.get("overlap")!.sort((a, b) => (a.rank as number) - (b.rank as number));
  for (const row of rows) assert.equal(row.ok, true);
  assert.ok((rows[0]!.ms as number) >= 1000, `rank 0 finished before its main thread was free (${rows[0]!.ms} ms)`);
  assert.ok((rows[1]!.ms as number) < 700, `rank 1 waited for rank 0's main thread (${rows[1]!.ms} ms)`);
});
