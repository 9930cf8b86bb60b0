// Faults over TCP between real processes: ranks that disagree, die or freeze. Every survivor
// must get a typed error naming the rank, before its deadline (a frozen one through the links'
// heartbeats: test/distributed/heartbeat.test.ts has the rest of that story).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnRanks } from "./helpers/spawn-ranks.js";
import { checks } from "./helpers/rank-checks.js";

test("ranks passing different sizes all get CollectiveMismatchError naming the sizes", async () => {
  const by = checks(await spawnRanks({ worldSize: 3, script: "collectives-worker.js", args: ["mismatch"] }));
  const rows = by.get("mismatch")!;
  assert.equal(rows.length, 3);
  for (const row of rows) {
    assert.equal(row.error, "CollectiveMismatchError", JSON.stringify(row));
    assert.match(row.message as string, /passed (1000|999) floats, rank \d passed (999|1000)/);
    assert.equal(row.seq, 0);
  }
});

test("a killed rank makes the others fail with PeerLostError well within the deadline", async () => {
  const results = await spawnRanks({ worldSize: 3, script: "collectives-worker.js", args: ["kill"] });
  assert.equal(results[2]!.signal, "SIGKILL");
  for (const r of results.slice(0, 2)) {
    assert.equal(r.code, 0, r.stderr);
    const row = r.json.find((j) => j.check === "kill");
    assert.ok(row, `rank ${r.rank} reported no outcome:\n${r.stderr}`);
    assert.ok(row.error === "PeerLostError" || row.error === "CollectiveTimeoutError", JSON.stringify(row));
    assert.match(row.message as string, /rank 2/);
    // The call's deadline is KILL_DEADLINE_MS (30 s) in the worker: an outcome in under half of it
    // came from the lost peer (directly or reported by another rank), however slow the machine.
    assert.ok((row.ms as number) < 15_000, `took ${row.ms} ms`);
  }
});

test("a frozen rank (SIGSTOP) is named by the others with PeerLostError as soon as it falls silent, well before the deadline", async () => {
  const results = await spawnRanks({ worldSize: 3, script: "collectives-worker.js", args: ["freeze"], waitFor: [0, 1] });
  for (const r of results.slice(0, 2)) {
    const row = r.json.find((j) => j.check === "freeze");
    assert.ok(row, `rank ${r.rank} reported no outcome:\n${r.stderr}`);
    assert.equal(row.error, "PeerLostError", JSON.stringify(row));
    assert.deepEqual(row.ranks, [2]);
    assert.match(row.message as string, /all-reduce #1: lost the connection to rank 2 \(silent for \d+ ms: no frames or heartbeats/);
    // The heartbeats' silence limit is 1 s (transport/link-watch.ts) and the call's deadline
    // FREEZE_DEADLINE_MS (5 s) in the worker; a deadline would have been CollectiveTimeoutError.
    assert.ok((row.ms as number) < 4000, `took ${row.ms} ms`);
  }
});
