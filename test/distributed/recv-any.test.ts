// Receive from any source (ProcessGroup.recvAny, collectives/recv-any.ts): the next message from
// whichever rank sends first, with its sender; a message of several frames comes whole from one
// sender even when two race (Note [claim on match]); the per-pair numbering of send/recv stays
// right; a deadline names the ranks waited on. In-process first, then between processes over TCP
// and with shared memory (where p2p still goes over TCP) with workers/recv-any-worker.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createInProcessGroups } from "../../src/distributed/group/in-process-group.js";
import { CollectiveMismatchError, CollectiveTimeoutError } from "../../src/distributed/base/errors.js";
import type { ProcessGroup } from "../../src/distributed/group/process-group.js";
import { spawnRanks } from "./helpers/spawn-ranks.js";
import { checks } from "./helpers/rank-checks.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const destroyAll = (groups: ProcessGroup[]): Promise<unknown> => Promise.all(groups.map((g) => g.destroy()));

test("parameter server: rank 0 takes gradients from whichever of ranks 1 and 2 sends first and replies to that source", async () => {
  const K = 8;
  const groups = createInProcessGroups(3, { segmentBytes: 64 });
  const sources: number[] = [];
  const server = async (pg: ProcessGroup): Promise<void> => {
    const grad = new Float32Array(40);
    const params = new Float32Array(40);
    for (let i = 0; i < 2 * K; i++) {
      const { source } = await pg.recvAny(grad, { tag: 1 });
      sources.push(source);
      assert.ok(grad.every((v) => v === grad[0]) && Math.floor(grad[0]! / 100) === source, `gradient ${grad[0]} came whole from rank ${source}`);
      for (let j = 0; j < params.length; j++) params[j]! += grad[j]!;
      await pg.send(params, source, { tag: 2 });
    }
  };
  const worker = async (pg: ProcessGroup, paceMs: number): Promise<number[]> => {
    const replies: number[] = [];
    const reply = new Float32Array(40);
    for (let k = 0; k < K; k++) {
      if (paceMs) await sleep(paceMs);
      await pg.send(new Float32Array(40).fill(pg.rank * 100 + k), 0, { tag: 1 });
      await pg.recv(reply, 0, { tag: 2 });
      replies.push(reply[0]!);
    }
    return replies;
  };
  const [, fast, slow] = await Promise.all([server(groups[0]!), worker(groups[1]!, 0), worker(groups[2]!, 15)]);
  assert.equal(sources.filter((s) => s === 1).length, K);
  assert.equal(sources.filter((s) => s === 2).length, K);
  assert.equal(sources[0], 1, `the fast rank is served first: ${sources.join(" ")}`);
  // Every reply is the running sum, so it grows and includes the worker's own gradients so far.
  for (const rs of [fast!, slow!]) for (let k = 1; k < K; k++) assert.ok(rs[k]! > rs[k - 1]!, rs.join(" "));
  const total = [1, 2].reduce((s, r) => s + Array.from({ length: K }, (_, k) => r * 100 + k).reduce((a, b) => a + b, 0), 0);
  assert.equal(Math.max(fast!.at(-1)!, slow!.at(-1)!), total);
  await destroyAll(groups);
});

test("two senders racing with a message of 250 segments: each receive-any gets one sender's message whole", async () => {
  const groups = createInProcessGroups(3, { segmentBytes: 16 }); // 4 floats per frame
  const n = 1000;
  const msg = (r: number): Float32Array => Float32Array.from({ length: n }, (_, i) => r * 10_000 + i);
  const a = new Float32Array(n);
  const b = new Float32Array(n);
  // Posted before the frames arrive (they then interleave frame by frame), and after (they wait).
  for (const postFirst of [true, false]) {
    const sends = [groups[1]!.send(msg(1), 0), groups[2]!.send(msg(2), 0)];
    if (!postFirst) await Promise.all(sends);
    const got = [await groups[0]!.recvAny(a), await groups[0]!.recvAny(b)];
    await Promise.all(sends);
    assert.deepEqual(got.map((g) => g.source).sort(), [1, 2]);
    for (const [buf, { source }] of [[a, got[0]!], [b, got[1]!]] as const) {
      assert.ok(buf.every((v, i) => v === source * 10_000 + i), `posted ${postFirst ? "before" : "after"}: a buffer mixes senders`);
    }
  }
  await destroyAll(groups);
});

test("only the chosen sender's message is consumed: plain recvs afterwards get each pair's next message", async () => {
  const groups = createInProcessGroups(3);
  const sends = [1, 2].flatMap((r) => [0, 1].map((k) => groups[r]!.send(Float32Array.of(r, k), 0)));
  const buf = new Float32Array(2);
  const { source } = await groups[0]!.recvAny(buf);
  assert.deepEqual([...buf], [source, 0]);
  const other = 3 - source;
  await groups[0]!.recv(buf, source);
  assert.deepEqual([...buf], [source, 1]);
  await groups[0]!.recv(buf, other);
  assert.deepEqual([...buf], [other, 0]);
  const w = groups[0]!.recvAnyAsync(buf);
  assert.deepEqual(await w.wait(), { source: other });
  assert.ok(w.isCompleted());
  assert.deepEqual([...buf], [other, 1]);
  await Promise.all(sends);
  await destroyAll(groups);
});

test("a message with another tag is left for a recv with that tag; ties between waiting senders go round-robin", async () => {
  const groups = createInProcessGroups(3);
  const buf = new Float32Array(1);
  const s1 = groups[1]!.send(Float32Array.of(15), 0, { tag: 5 });
  const s2 = groups[2]!.send(Float32Array.of(27), 0, { tag: 7 });
  await Promise.all([s1, s2]);
  assert.deepEqual(await groups[0]!.recvAny(buf, { tag: 7 }), { source: 2 });
  assert.equal(buf[0], 27);
  await groups[0]!.recv(buf, 1, { tag: 5 });
  assert.equal(buf[0], 15);

  // Both senders have two messages waiting: the sources alternate instead of draining one rank first.
  await Promise.all([1, 2].flatMap((r) => [0, 1].map(() => groups[r]!.send(Float32Array.of(r), 0))));
  await sleep(10);
  const order: number[] = [];
  for (let i = 0; i < 4; i++) order.push((await groups[0]!.recvAny(buf)).source);
  assert.ok(order[0] !== order[1] && order[1] !== order[2] && order[2] !== order[3], order.join(" "));
  await destroyAll(groups);
});

test("receive-any's deadline names the ranks it waited on; a size mismatch names both sides", async () => {
  const groups = createInProcessGroups(3);
  await assert.rejects(groups[0]!.recvAny(new Float32Array(4), { timeoutMs: 100, tag: 3 }), (err: unknown) => {
    assert.ok(err instanceof CollectiveTimeoutError, String(err));
    assert.deepEqual(err.ranks, [1, 2]);
    assert.match(err.message, /recv-any \(tag 3\) from any of ranks 1, 2 did not finish within 100 ms: no data came from ranks 1, 2/);
    return true;
  });
  await destroyAll(groups);

  const g2 = createInProcessGroups(2);
  const results = await Promise.allSettled([g2[1]!.send(new Float32Array(10), 0), g2[0]!.recvAny(new Float32Array(12))]);
  const err = (results[1] as PromiseRejectedResult).reason;
  assert.ok(err instanceof CollectiveMismatchError, String(err));
  assert.match(err.message, /recv-any #0 from rank 1: rank 1 sent tag 0 with 10 floats, rank 0 expected tag 0 with 12/);
  await destroyAll(g2);
  await assert.rejects(createInProcessGroups(1)[0]!.recvAny(new Float32Array(1)), /needs another rank/);
});

test("inside a subgroup, receive-any reports the subgroup's rank and its errors name job ranks", async () => {
  const groups = createInProcessGroups(4);
  const subs = await Promise.all(groups.map((g) => g.newGroup([1, 2, 3])));
  const send = subs[3]!.send(Float32Array.of(9), 0); // subgroup rank 2 is job rank 3
  const buf = new Float32Array(1);
  assert.deepEqual(await subs[1]!.recvAny(buf), { source: 2 });
  await send;
  await assert.rejects(subs[1]!.recvAny(buf, { timeoutMs: 100 }), (err: unknown) => {
    assert.ok(err instanceof CollectiveTimeoutError);
    assert.deepEqual(err.ranks, [2, 3]);
    assert.match(err.message, /from any of ranks 2, 3 in group \[1, 2, 3\] did not finish within 100 ms/);
    return true;
  });
  await destroyAll(groups);
});

// ---- between processes ------------------------------------------------------------------------

for (const shm of [false, true]) {
  const transport = shm ? "shared-memory" : "tcp";
  test(`parameter server between 3 processes (${transport} group, p2p over TCP): rank 0 serves whichever rank sends first`, async () => {
    const env: Record<string, string> = shm ? { WEFT_LOCAL_WORLD_SIZE: "3" } : { WEFT_SHM: "0" };
    const by = checks(await spawnRanks({ worldSize: 3, script: "recv-any-worker.js", args: ["server"], env, timeoutMs: 60_000 }));
    const rows = by.get("server") ?? [];
    assert.equal(rows.length, 3);
    for (const row of rows) assert.equal(row.ok, true, JSON.stringify(row));
    for (const row of rows) assert.equal(row.transport, transport);
  });
}

test("over TCP: two senders racing with a message of many segments, and a receive-any deadline naming both senders", async () => {
  const by = checks(await spawnRanks({ worldSize: 3, script: "recv-any-worker.js", args: ["race"], env: { WEFT_SHM: "0" }, timeoutMs: 60_000 }));
  for (const name of ["race posted after", "race posted before"]) {
    const rows = by.get(name) ?? [];
    assert.equal(rows.length, 1, name);
    assert.equal(rows[0]!.ok, true, JSON.stringify(rows[0]));
  }
  const timeout = by.get("timeout") ?? [];
  assert.equal(timeout.length, 1);
  assert.equal(timeout[0]!.error, "CollectiveTimeoutError", JSON.stringify(timeout[0]));
  assert.deepEqual(timeout[0]!.ranks, [1, 2]);
  assert.match(timeout[0]!.message as string, /recv-any \(tag 9\) from any of ranks 1, 2 did not finish within 300 ms: no data came from ranks 1, 2/);
});
