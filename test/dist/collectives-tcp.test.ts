// Collectives over TCP between real processes, each rank with its comm thread: the same claims as
// the in-process tests, plus what only real processes show (a killed or frozen rank).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnRanks, type RankResult } from "./helpers/spawn-ranks.js";

function checks(results: RankResult[]): Map<string, Record<string, unknown>[]> {
  const by = new Map<string, Record<string, unknown>[]>();
  for (const r of results) {
    assert.equal(r.code, 0, `rank ${r.rank} exited with ${r.code ?? r.signal}:\n${r.stderr}`);
    for (const j of r.json) {
      const name = j.check as string;
      by.set(name, [...(by.get(name) ?? []), j]);
    }
  }
  return by;
}

for (const world of [2, 3]) {
  test(`all-reduce over TCP with ${world} ranks equals the documented-order sum, bitwise, on every rank`, async () => {
    const by = checks(await spawnRanks({ worldSize: world, script: "collectives-worker.js", args: ["allreduce"] }));
    assert.equal(by.size, 10);
    for (const [name, rows] of by) {
      assert.equal(rows.length, world, name);
      for (const row of rows) assert.equal(row.ok, true, `${name} on rank ${row.rank}`);
      assert.equal(new Set(rows.map((r) => r.hash)).size, 1, `${name}: ranks differ`);
    }
  });

  test(`reduce-scatter, all-gather, broadcast, barrier and send/recv over TCP with ${world} ranks`, async () => {
    const by = checks(await spawnRanks({ worldSize: world, script: "collectives-worker.js", args: ["collectives"] }));
    for (const name of ["reduce-scatter", "all-gather", "broadcast", "barrier", "send-recv"]) {
      const rows = by.get(name) ?? [];
      assert.equal(rows.length, world, name);
      for (const row of rows) assert.equal(row.ok, true, `${name} on rank ${row.rank}`);
    }
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
  const results = await spawnRanks({ worldSize: 4, script: "stress-worker.js", args: ["200"], timeoutMs: 60_000 });
  for (const r of results) {
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json, [{ rank: r.rank, ok: true, ops: 200 }]);
  }
});

test("several all-reduces in flight at once complete in order with the right sums", async () => {
  const by = checks(await spawnRanks({ worldSize: 3, script: "collectives-worker.js", args: ["async"] }));
  for (const row of by.get("async")!) assert.equal(row.ok, true);
});

test("communication progresses while the main thread is blocked in a long synchronous call", async () => {
  const by = checks(await spawnRanks({ worldSize: 2, script: "collectives-worker.js", args: ["overlap"] }));
  const rows = by.get("overlap")!.sort((a, b) => (a.rank as number) - (b.rank as number));
  for (const row of rows) assert.equal(row.ok, true);
  assert.ok((rows[0]!.ms as number) >= 1000, `rank 0 finished before its main thread was free (${rows[0]!.ms} ms)`);
  assert.ok((rows[1]!.ms as number) < 700, `rank 1 waited for rank 0's main thread (${rows[1]!.ms} ms)`);
});

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
    const row = r.json.find((j) => j.check === "kill")!;
    assert.ok(row.error === "PeerLostError" || row.error === "CollectiveTimeoutError", JSON.stringify(row));
    assert.match(row.message as string, /rank 2/);
    assert.ok((row.ms as number) < 3000, `took ${row.ms} ms`);
  }
});

test("a frozen rank (SIGSTOP) makes the others time out, naming it", async () => {
  const results = await spawnRanks({ worldSize: 3, script: "collectives-worker.js", args: ["freeze"], waitFor: [0, 1] });
  for (const r of results.slice(0, 2)) {
    const row = r.json.find((j) => j.check === "freeze")!;
    assert.equal(row.error, "CollectiveTimeoutError", JSON.stringify(row));
    assert.deepEqual(row.ranks, [2]);
    assert.match(row.message as string, /all-reduce #1 did not finish within 1500 ms: rank 2 never arrived/);
  }
});
