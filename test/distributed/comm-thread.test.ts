// The comm thread: sockets keep moving while the main thread is stuck in synchronous work.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnRanks } from "./helpers/spawn-ranks.js";
import { checks } from "./helpers/rank-checks.js";

// Shown by the order of events, not by durations (see the "overlap" scenario of the worker): rank
// 0's main thread stays blocked until rank 1's all-reduce has finished, which needs rank 0's
// sockets to move. A comm thread that did not progress leaves rank 1 unfinished and rank 0 reports
// that it gave up waiting.
test("communication progresses while the main thread is blocked in a long synchronous call", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-overlap-"));
  try {
    const by = checks(await spawnRanks({ worldSize: 2, script: "collectives-worker.js", args: ["overlap", dir] }));
    const rows = by.get("overlap")!.sort((a, b) => (a.rank as number) - (b.rank as number));
    assert.equal(rows.length, 2);
    for (const row of rows) assert.equal(row.ok, true, `rank ${row.rank} got a wrong sum`);
    assert.equal(rows[0]!.peerFinishedWhileBlocked, true, `rank 1's all-reduce did not finish while rank 0's main thread was blocked (gave up after ${rows[0]!.blockedMs} ms)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
