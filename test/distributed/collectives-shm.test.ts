// Collectives through shared memory between real processes on one machine (what
// initProcessGroup picks when WEFT_LOCAL_WORLD_SIZE equals the world size): the same scenarios as
// over TCP, with the rank-order sums of Note [shm chunk protocol], small chunks so that every
// operation spans several, and the TCP links still carrying send/recv.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { segmentName } from "../../src/distributed/executors/shm-attach.js";
import { spawnRanks } from "./helpers/spawn-ranks.js";
import { assertBarrierHeld, checks } from "./helpers/rank-checks.js";

const local = (world: number): Record<string, string> => ({ WEFT_LOCAL_WORLD_SIZE: String(world) });

function assertAllOk(by: Map<string, Record<string, unknown>[]>, names: string[], world: number): void {
  for (const name of names) {
    const rows = by.get(name) ?? [];
    assert.equal(rows.length, world, name);
    for (const row of rows) {
      assert.equal(row.transport, "shared-memory", `${name} on rank ${row.rank}`);
      assert.equal(row.ok, true, `${name} on rank ${row.rank}`);
    }
  }
}

for (const world of [2, 3]) {
  test(`all-reduce through shared memory with ${world} ranks equals the rank-order sum, bitwise, and the segment is unlinked`, async () => {
    let secret = "";
    let store = "";
    const by = checks(
      await spawnRanks({ worldSize: world, script: "collectives-worker.js", args: ["allreduce"], env: local(world), onStore: (port, s) => ((secret = s), (store = `127.0.0.1:${port}`)) }),
    );
    const mapped = by.get("mapped") ?? [];
    by.delete("mapped");
    assert.equal(by.size, 10);
    assertAllOk(by, [...by.keys()], world);
    for (const [name, rows] of by) assert.equal(new Set(rows.map((r) => r.hash)).size, 1, `${name}: ranks differ`);
    assert.equal(existsSync(`/dev/shm${segmentName(secret, store, "pg0")}`), false, "the segment name outlived the job");
    // Whatever the name: every segment a rank had mapped is gone now that the job is. The ranks
    // name their own segments (from /proc/self/maps), so a segment of another test running at the
    // same time cannot be mistaken for a leftover, and no waiting is needed.
    assert.equal(mapped.length, world, "every rank reports its mapped segments");
    const names = new Set(mapped.flatMap((row) => (row.segments as string[]).map((n) => n.replace(/ \(deleted\)$/, ""))));
    assert.ok(names.size > 0, "the ranks mapped no shared-memory segment");
    assert.deepEqual([...names].filter((n) => existsSync(`/dev/shm/${n}`)), [], "segments outlived the job");
  });

  test(`reduce-scatter, all-gather, broadcast, barrier, send/recv and all-reduces in flight through shared memory with ${world} ranks`, async () => {
    const by = checks(await spawnRanks({ worldSize: world, script: "collectives-worker.js", args: ["collectives"], env: local(world) }));
    assertAllOk(by, ["reduce-scatter", "all-gather", "broadcast", "send-recv", "async"], world);
    assertBarrierHeld(by.get("barrier"), world);
  });
}

test("a wire option is accepted and ignored through shared memory: float32 rank-order sums", async () => {
  const by = checks(await spawnRanks({ worldSize: 2, script: "collectives-worker.js", args: ["wire"], env: local(2) }));
  assert.equal(by.size, 12);
  assertAllOk(by, [...by.keys()], 2);
});

test("a random mix of 200 collectives on 4 ranks through shared memory, several in flight, tiny chunks", async () => {
  const results = await spawnRanks({ worldSize: 4, script: "stress-worker.js", args: ["200"], env: local(4) });
  for (const r of results) {
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json, [{ rank: r.rank, ok: true, ops: 200, transport: "shared-memory" }]);
  }
});

test("shared memory: ranks passing different sizes all get CollectiveMismatchError naming the sizes", async () => {
  const by = checks(await spawnRanks({ worldSize: 3, script: "collectives-worker.js", args: ["mismatch"], env: local(3) }));
  const rows = by.get("mismatch")!;
  assert.equal(rows.length, 3);
  for (const row of rows) {
    assert.equal(row.transport, "shared-memory");
    assert.equal(row.error, "CollectiveMismatchError", JSON.stringify(row));
    assert.match(row.message as string, /all-reduce #0: rank \d passed (1000|999) floats, rank \d passed (999|1000)/);
  }
});

test("shared memory: a killed rank makes the others fail with PeerLostError naming it, well within the deadline", async () => {
  const results = await spawnRanks({ worldSize: 3, script: "collectives-worker.js", args: ["kill"], env: local(3) });
  assert.equal(results[2]!.signal, "SIGKILL");
  for (const r of results.slice(0, 2)) {
    assert.equal(r.code, 0, r.stderr);
    const row = r.json.find((j) => j.check === "kill");
    assert.ok(row, `rank ${r.rank} reported no outcome:\n${r.stderr}`);
    assert.equal(row.transport, "shared-memory");
    assert.equal(row.error, "PeerLostError", JSON.stringify(row));
    assert.deepEqual(row.ranks, [2]);
    assert.match(row.message as string, /all-reduce #1: the process of rank 2 is gone/);
    // The call's deadline is KILL_DEADLINE_MS (30 s) in the worker: PeerLostError in under half of
    // it cannot have come from the deadline, however slow the machine.
    assert.ok((row.ms as number) < 15_000, `took ${row.ms} ms`);
  }
});

test("shared memory: a frozen rank (SIGSTOP) makes the others time out, naming it", async () => {
  const results = await spawnRanks({ worldSize: 3, script: "collectives-worker.js", args: ["freeze"], env: local(3), waitFor: [0, 1] });
  for (const r of results.slice(0, 2)) {
    const row = r.json.find((j) => j.check === "freeze");
    assert.ok(row, `rank ${r.rank} reported no outcome:\n${r.stderr}`);
    assert.equal(row.transport, "shared-memory");
    assert.equal(row.error, "CollectiveTimeoutError", JSON.stringify(row));
    assert.deepEqual(row.ranks, [2]);
    assert.match(row.message as string, /all-reduce #1 did not finish within 5000 ms: rank 2 never arrived/);
    // Never before the call's 5000 ms deadline (FREEZE_DEADLINE_MS in the worker, long enough that
    // rank 1 has surely arrived on a loaded machine, so only rank 2 is named). After it, only "it
    // fired": the message shows it was this call's deadline and not the group's 60 s.
    assert.ok((row.ms as number) >= 4900 && (row.ms as number) < 30_000, `took ${row.ms} ms`);
  }
});
