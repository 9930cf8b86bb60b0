// ProcessGroup.abort(reason): the operation running now and every later one fail on every rank,
// at once, with GroupAbortedError (ranks [], the aborting rank and the reason in the message).
// In-process, for a group of one, across the comm thread, and between processes over TCP and
// through shared memory (test/distributed/workers/heartbeat-worker.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createInProcessGroups } from "../../src/distributed/group/in-process-group.js";
import { InProcessHub } from "../../src/distributed/transport/in-process-transport.js";
import { ProcessGroup } from "../../src/distributed/group/process-group.js";
import { SingleExecutor } from "../../src/distributed/executors/single-executor.js";
import { CollectiveError, deserializeError, GroupAbortedError, PeerLostError, serializeError } from "../../src/distributed/base/errors.js";
import { GroupAbortedError as Exported } from "../../src/distributed/index.js";
import { spawnRanks } from "./helpers/spawn-ranks.js";
import { checks } from "./helpers/rank-checks.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const settle = (p: Promise<unknown>): Promise<unknown> => p.then(() => null, (e: unknown) => e);

function assertAborted(err: unknown, by: number, what: string): asserts err is GroupAbortedError {
  assert.ok(err instanceof GroupAbortedError, `${what}: ${String(err)}`);
  assert.deepEqual(err.ranks, [], what);
  assert.match(err.message, new RegExp(`rank ${by} aborted .*: re-forming; build a new group to go on`), what);
}

test("in-process: rank 0 aborts while ranks 1 and 2 wait in an all-reduce: all three fail with GroupAbortedError, and later operations are refused", async () => {
  const groups = createInProcessGroups(3, { timeoutMs: 60_000 });
  const waiting = [1, 2].map((r) => settle(groups[r]!.allReduce(new Float32Array(1000))));
  await sleep(10);
  const t0 = performance.now();
  groups[0]!.abort("re-forming");
  const errs = await Promise.all(waiting);
  assert.ok(performance.now() - t0 < 1000);
  errs.forEach((e, i) => assertAborted(e, 0, `rank ${i + 1}`));
  assert.match((errs[0] as Error).message, /^all-reduce #0: rank 0 aborted the process group: re-forming/, "a peer's error names no second reporter");
  for (const g of groups) {
    const later = await settle(g.barrier());
    assertAborted(later, 0, `rank ${g.rank}'s later barrier`);
    assert.match((later as Error).message, /^barrier not started: the group failed earlier and must be re-formed/);
  }
  await Promise.all(groups.map((g) => g.destroy()));
});

test("in-process: an abort fails the aborting rank's own running operation, and a subgroup's names job ranks", async () => {
  const groups = createInProcessGroups(4, { timeoutMs: 60_000 });
  const subs = await Promise.all(groups.map((g) => g.newGroup([1, 3])));
  const mine = settle(subs[3]!.allReduce(new Float32Array(10))); // waits for rank 1, which has not started it
  await sleep(10);
  subs[3]!.abort("re-forming");
  const a = await mine;
  await sleep(10); // the Abort reaches rank 1 (rank 3's data already had: an all-reduce started now would complete)
  const b = await settle(subs[1]!.barrier());
  assertAborted(a, 3, "the aborting rank");
  assertAborted(b, 3, "its peer");
  assert.match((a as Error).message, /^all-reduce #0 in group \[1, 3\]: rank 3 aborted group \[1, 3\]: re-forming/);
  // The parent is a group of its own and goes on.
  await Promise.all(groups.map((g) => g.allReduce(new Float32Array(4))));
  await Promise.all(groups.map((g) => g.destroy()));
});

test("an abort after a failure keeps the first error for later operations (the cause), and tells peers not yet told", async () => {
  const hub = new InProcessHub(3);
  const groups = createInProcessGroups(3, { hub, timeoutMs: 60_000 });
  hub.freeze(2, undefined, [0]); // rank 0 alone marks the group failed: no operation ran, nobody is told
  groups[0]!.abort("re-forming");
  const [mine, theirs] = await Promise.all([settle(groups[0]!.barrier()), settle(groups[1]!.barrier())]);
  assert.ok(mine instanceof PeerLostError, String(mine));
  assert.deepEqual(mine.ranks, [2]);
  assertAborted(theirs, 0, "rank 1");
  await Promise.all(groups.map((g) => g.destroy()));
});

test("a group of one: abort() refuses later operations with GroupAbortedError naming the rank; destroyed groups ignore it", async () => {
  const pg = new ProcessGroup(0, 1, new SingleExecutor(5), "single");
  await pg.allReduce(new Float32Array(2));
  pg.abort("re-forming");
  const err = await settle(pg.allReduce(new Float32Array(2)));
  assertAborted(err, 5, "group of one");
  assert.equal(err.seq, 1);
  await pg.destroy();
  pg.abort("again"); // no-op
});

test("GroupAbortedError keeps its class and fields across the comm thread and Abort frames, and is exported", () => {
  const err = new GroupAbortedError("all-reduce #3: rank 0 aborted the process group: re-forming", { op: "all-reduce", seq: 3, ranks: [] });
  const back = deserializeError(serializeError(err));
  assert.ok(back instanceof GroupAbortedError && back instanceof CollectiveError && !(back instanceof PeerLostError));
  assert.deepEqual([back.message, back.op, back.seq, back.ranks], [err.message, "all-reduce", 3, []]);
  assert.equal(Exported, GroupAbortedError);
});

test("TCP: rank 0 aborts while ranks 1 and 2 wait in an all-reduce: all three get GroupAbortedError at once, ranks []; later operations are refused", async () => {
  const by = checks(await spawnRanks({ worldSize: 3, script: "heartbeat-worker.js", args: ["abort"] }));
  for (const name of ["aborted", "later"]) {
    const rows = by.get(name)!;
    assert.equal(rows.length, 3, name);
    for (const row of rows) {
      const detail = JSON.stringify(row);
      assert.equal(row.transport, "tcp");
      assert.equal(row.error, "GroupAbortedError", detail);
      assert.deepEqual(row.ranks, [], detail);
      assert.match(row.message as string, /rank 0 aborted the process group: re-forming for a joining worker \(test\)/, detail);
    }
  }
  // The waiting ranks were released by the abort (rank 0 waits 500 ms first), not by their 60 s deadline.
  for (const row of by.get("aborted")!.filter((r) => r.rank !== 0)) assert.ok((row.ms as number) < 10_000, JSON.stringify(row));
});

test("shared memory: an abort fails the peers' TCP side (a waiting receive) and every later collective, on every rank", async () => {
  const env = { WEFT_LOCAL_WORLD_SIZE: "3" };
  const by = checks(await spawnRanks({ worldSize: 3, script: "heartbeat-worker.js", args: ["abort-shm"], env }));
  for (const name of ["aborted", "later"]) {
    const rows = by.get(name)!;
    assert.equal(rows.length, 3, name);
    for (const row of rows) {
      const detail = JSON.stringify(row);
      assert.equal(row.error, "GroupAbortedError", detail);
      assert.deepEqual(row.ranks, [], detail);
      assert.match(row.message as string, /rank 0 aborted the process group: re-forming for a joining worker \(test\)/, detail);
    }
  }
  // Only meaningful where the segment could be attached (the native addon is built).
  const transports = new Set(by.get("later")!.map((r) => r.transport));
  assert.equal(transports.size, 1);
});
