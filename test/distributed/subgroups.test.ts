// Subgroups (ProcessGroup.newGroup): disjoint subgroups run at the same time and leave the parent
// usable; inside a subgroup, failures are the usual typed errors and name job-wide ranks (Note
// [global rank names] in collectives/engine.ts). In-process here; between processes over TCP and
// shared memory in the second half, with test/distributed/workers/subgroup-worker.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createInProcessGroups } from "../../src/distributed/group/in-process-group.js";
import { InProcessHub } from "../../src/distributed/transport/in-process-transport.js";
import { CollectiveMismatchError, CollectiveTimeoutError, PeerLostError } from "../../src/distributed/base/errors.js";
import type { ProcessGroup } from "../../src/distributed/group/process-group.js";
import { spawnRanks } from "./helpers/spawn-ranks.js";
import { checks } from "./helpers/rank-checks.js";

const destroyAll = (groups: ProcessGroup[]): Promise<unknown> => Promise.all(groups.map((g) => g.destroy()));

test("subgroups [1, 3] and [0, 2] all-reduce at the same time, then all four ranks all-reduce on the parent", async () => {
  // smallMessageBytes 0 and tiny segments: the 1000-float reductions take the ring, many frames each.
  const groups = createInProcessGroups(4, { smallMessageBytes: 0, segmentBytes: 64 });
  const subs = await Promise.all(groups.map((g) => g.newGroup([1, 3])));
  const others = await Promise.all(groups.map((g) => g.newGroup([0, 2])));
  assert.deepEqual(subs.map((s) => s?.rank ?? null), [null, 0, null, 1]);
  assert.deepEqual(others.map((s) => s?.rank ?? null), [0, null, 1, null]);
  assert.deepEqual(subs[3]!.globalRanks, [1, 3]);
  assert.equal(subs[1]!.worldSize, 2);
  assert.equal(subs[1]!.transport, "in-process");

  const odd = [1, 3].map((g) => new Float32Array(1000).map((_, i) => g * 1000 + i));
  const even = [0, 2].map((g) => new Float32Array(777).fill(g + 1));
  await Promise.all([
    ...[1, 3].map((g, i) => subs[g]!.allReduce(odd[i]!)),
    ...[0, 2].map((g, i) => others[g]!.allReduce(even[i]!, { op: "avg" })),
  ]);
  for (const b of odd) assert.ok(b.every((v, i) => v === 4000 + 2 * i), "[1, 3] sums");
  for (const b of even) assert.ok(b.every((v) => v === 2), "[0, 2] averages");

  const all = groups.map((_, r) => new Float32Array(300).fill(r));
  await Promise.all(groups.map((g, r) => g.allReduce(all[r]!)));
  for (const b of all) assert.ok(b.every((v) => v === 6));
  await destroyAll(groups);
  await assert.rejects(subs[1]!.barrier(), /destroyed/, "destroying the parent destroys its subgroups");
});

test("a subgroup's rank follows the list's order, nested subgroups name job ranks, and a one-rank subgroup needs nobody", async () => {
  const groups = createInProcessGroups(4);
  const subs = await Promise.all(groups.map((g) => g.newGroup([3, 0, 2])));
  assert.deepEqual(subs.map((s) => s?.rank ?? null), [1, null, 2, 0]);
  const nested = await Promise.all([0, 2, 3].map((g) => subs[g]!.newGroup([2, 0]))); // subgroup ranks 2 and 0: job ranks 2 and 3
  assert.deepEqual(nested.map((s) => s?.globalRanks ?? null), [null, [2, 3], [2, 3]]);
  const b = [Float32Array.of(5), Float32Array.of(7)];
  await Promise.all([nested[1]!.broadcast(b[0]!, 1), nested[2]!.broadcast(b[1]!, 1)]);
  assert.deepEqual([b[0]![0], b[1]![0]], [7, 7], "root 1 of [2, 3] is job rank 3");
  const alone = await groups[1]!.newGroup([1]);
  assert.equal(alone!.transport, "single");
  await alone!.allReduce(Float32Array.of(4));
  // The same list again is a new group: its own sequence numbers, its own hub.
  const again = await Promise.all(groups.map((g) => g.newGroup([3, 0, 2])));
  await Promise.all([0, 2, 3].map((g) => again[g]!.barrier({ timeoutMs: 2000 })));
  await assert.rejects(groups[0]!.newGroup([0, 0]), RangeError);
  await assert.rejects(groups[0]!.newGroup([0, 4]), /4 is not one/);
  await destroyAll(groups);
});

test("a mismatch inside subgroup [1, 3] fails both members with CollectiveMismatchError naming ranks 1 and 3", async () => {
  const groups = createInProcessGroups(4);
  const subs = await Promise.all(groups.map((g) => g.newGroup([1, 3])));
  const results = await Promise.allSettled([subs[1]!.allReduce(new Float32Array(1000)), subs[3]!.allReduce(new Float32Array(999))]);
  for (const r of results) {
    assert.equal(r.status, "rejected");
    const err = (r as PromiseRejectedResult).reason as CollectiveMismatchError;
    assert.ok(err instanceof CollectiveMismatchError, String(err));
    assert.match(err.message, /all-reduce #0 in group \[1, 3\]: rank (1|3) passed (1000|999) floats, rank (3|1) passed (999|1000)/);
    assert.deepEqual([...err.ranks].sort(), [1, 3]);
  }
  // The parent is untouched.
  await Promise.all(groups.map((g) => g.barrier({ timeoutMs: 2000 })));
  await destroyAll(groups);
});

test("a killed member of a subgroup gives PeerLostError naming its job rank; a missing one a timeout naming it", async () => {
  const hub = new InProcessHub(4);
  const groups = createInProcessGroups(4, { hub });
  const subs = await Promise.all(groups.map((g) => g.newGroup([1, 3])));
  const pending = subs[1]!.allReduce(new Float32Array(100), { timeoutMs: 5000 });
  await new Promise((r) => setImmediate(r)); // running, waiting for rank 3
  hub.kill(3);
  await assert.rejects(pending, (err: unknown) => {
    assert.ok(err instanceof PeerLostError, String(err));
    assert.deepEqual(err.ranks, [3]);
    assert.match(err.message, /all-reduce #0 in group \[1, 3\]: lost the connection to rank 3/);
    return true;
  });
  await destroyAll(groups);

  const g2 = createInProcessGroups(4);
  const s2 = await Promise.all(g2.map((g) => g.newGroup([0, 2, 3])));
  const late = await Promise.allSettled([0, 2].map((g) => s2[g]!.allReduce(new Float32Array(10), { timeoutMs: 200 }))); // job rank 3 never calls
  for (const r of late) {
    const err = (r as PromiseRejectedResult).reason;
    assert.ok(err instanceof CollectiveTimeoutError, String(err));
    assert.deepEqual(err.ranks, [3]);
    assert.match(err.message, /all-reduce #0 in group \[0, 2, 3\] did not finish within 200 ms: rank 3 never arrived/);
  }
  await destroyAll(g2);
});

// ---- between processes ------------------------------------------------------------------------

for (const shm of [false, true]) {
  const transport = shm ? "shared-memory" : "tcp";
  test(`over ${transport} between 4 processes: subgroups [1, 3] and [0, 2] at once, then the parent; a tensor view on the parent`, async () => {
    const env: Record<string, string> = shm ? { WEFT_LOCAL_WORLD_SIZE: "4" } : { WEFT_SHM: "0" };
    const by = checks(await spawnRanks({ worldSize: 4, script: "subgroup-worker.js", args: ["concurrent"], env, timeoutMs: 60_000 }));
    for (const name of ["subgroup", "parent", "tensor"]) {
      const rows = by.get(name) ?? [];
      assert.equal(rows.length, 4, name);
      for (const row of rows) assert.equal(row.ok, true, `${name} on rank ${row.rank}: ${JSON.stringify(row)}`);
      for (const row of rows) assert.equal(row.transport, transport, `${name} on rank ${row.rank}`);
    }
  });
}

test("over TCP between 4 processes: a mismatch, a killed member and a member that never came, inside subgroup [1, 3], name job ranks", async () => {
  const by = checks(await spawnRanks({ worldSize: 4, script: "subgroup-worker.js", args: ["mismatch"], env: { WEFT_SHM: "0" }, timeoutMs: 60_000 }));
  const rows = by.get("mismatch") ?? [];
  assert.equal(rows.length, 2);
  for (const row of rows) {
    assert.equal(row.error, "CollectiveMismatchError", JSON.stringify(row));
    assert.match(row.message as string, /all-reduce #0 in group \[1, 3\]: rank (1|3) passed (1000|999) floats, rank (3|1) passed/);
    assert.deepEqual([...(row.ranks as number[])].sort(), [1, 3]);
  }

  const results = await spawnRanks({ worldSize: 4, script: "subgroup-worker.js", args: ["kill"], env: { WEFT_SHM: "0" }, timeoutMs: 60_000, waitFor: [0, 1, 2] });
  const killed = results[1]!.json.find((j) => j.check === "kill");
  assert.ok(killed, results[1]!.stderr);
  assert.equal(killed.error, "PeerLostError", JSON.stringify(killed));
  assert.deepEqual(killed.ranks, [3]);
  assert.match(killed.message as string, /in group \[1, 3\]: lost the connection to rank 3/);
  // PeerLostError, not CollectiveTimeoutError: the loss was seen from the closed link, not at the deadline.

  const absent = checks(await spawnRanks({ worldSize: 4, script: "subgroup-worker.js", args: ["absent"], env: { WEFT_SHM: "0" }, timeoutMs: 60_000 })).get("absent");
  assert.equal(absent?.length, 1);
  assert.equal(absent![0]!.error, "StoreTimeoutError", "rank 1's newGroup failed with the store's timeout");
  assert.match(absent![0]!.message as string, /^rank 1 of group \[1, 3\]: rank 3 did not publish its address within 1000 ms; check that it started \(and, for a subgroup, called newGroup with the same ranks\)$/);
});
