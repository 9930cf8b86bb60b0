// ProcessGroup.traffic(): the bytes a rank has sent and received for a group and its subgroups.
// In-process first (the frames as the engine hands them over), then between processes over TCP
// (the frames on the sockets, counted on the comm thread) and through shared memory (the bytes
// through the segment, Note [shared-memory traffic] in executors/shm-executor.ts), with
// test/distributed/workers/traffic-worker.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createInProcessGroups } from "../../../src/distributed/group/in-process-group.js";
import { initProcessGroup } from "../../../src/distributed/group/init.js";
import type { ProcessGroup, Traffic } from "../../../src/distributed/group/process-group.js";
import { FRAME_HEADER_BYTES } from "../../../src/distributed/wire/frame.js";
import { spawnRanks } from "../helpers/spawn-ranks.js";
import { checks } from "../helpers/rank-checks.js";

const destroyAll = (groups: ProcessGroup[]): Promise<unknown> => Promise.all(groups.map((g) => g.destroy()));
const minus = (b: Traffic, a: Traffic): Traffic => ({ sent: b.sent - a.sent, received: b.received - a.received });
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

/**
 * What one rank of a ring all-reduce of `floats` (a multiple of w) sends and receives: the
 * payload, 2(w-1)/w of the buffer in `elementBytes` per element, and its frames: one descriptor
 * per peer and, for each of the 2(w-1) steps, a chunk of floats/w cut into segments.
 */
function ring(w: number, floats: number, segmentBytes: number, elementBytes = 4): { payload: number; frames: number } {
  const chunkBytes = (floats / w) * elementBytes;
  return { payload: 2 * (w - 1) * chunkBytes, frames: w - 1 + 2 * (w - 1) * Math.ceil(chunkBytes / segmentBytes) };
}

// ---- in-process --------------------------------------------------------------------------------

test("in-process: an all-reduce moves exactly the ring's payload plus 32 bytes a frame, and every byte sent is received", async () => {
  const segmentBytes = 1024;
  for (const w of [2, 3, 4]) {
    const floats = 1000 * w; // four segments per chunk
    const groups = createInProcessGroups(w, { smallMessageBytes: 256, segmentBytes });
    await Promise.all(groups.map((g) => g.allReduce(new Float32Array(floats).fill(g.rank))));
    const t = groups.map((g) => g.traffic());
    const { payload, frames } = ring(w, floats, segmentBytes);
    for (const [r, x] of t.entries()) {
      assert.deepEqual(x, { sent: payload + FRAME_HEADER_BYTES * frames, received: payload + FRAME_HEADER_BYTES * frames }, `rank ${r} of ${w}`);
    }
    assert.equal(sum(t.map((x) => x.sent)), sum(t.map((x) => x.received)));
    await destroyAll(groups);
  }
});

test("in-process: a send of m floats is counted as sent on the sender and received on the receiver, and nowhere else", async () => {
  const groups = createInProcessGroups(3, { segmentBytes: 1024 });
  const before = groups.map((g) => g.traffic());
  const m = 700; // 2800 bytes: three frames of at most 1024
  await Promise.all([groups[0]!.send(new Float32Array(m), 2), groups[2]!.recv(new Float32Array(m), 0)]);
  const d = groups.map((g, r) => minus(g.traffic(), before[r]!));
  const bytes = 4 * m + 3 * FRAME_HEADER_BYTES;
  assert.deepEqual(d, [{ sent: bytes, received: 0 }, { sent: 0, received: 0 }, { sent: 0, received: bytes }]);
  await destroyAll(groups);
});

test("in-process: a subgroup's bytes count in its parent's totals while it lives and after it is destroyed, nested ones too", async () => {
  const groups = createInProcessGroups(4, { smallMessageBytes: 0 });
  const pairs = await Promise.all(groups.map((g) => g.newGroup(g.rank < 2 ? [0, 1] : [2, 3])));
  await Promise.all(pairs.map((p) => p!.allReduce(new Float32Array(512))));
  const live = pairs.map((p) => p!.traffic());
  assert.ok(live.every((t) => t.sent >= 2048 && t.received >= 2048), JSON.stringify(live)); // 2(w-1)/w of 2 KiB at w = 2
  assert.deepEqual(groups.map((g) => g.traffic()), live, "the parents moved nothing themselves");
  await Promise.all(pairs.map((p) => p!.destroy()));
  assert.deepEqual(pairs.map((p) => p!.traffic()), live, "a destroyed group keeps its totals");
  assert.deepEqual(groups.map((g) => g.traffic()), live, "the parents keep their destroyed subgroups' bytes");

  // A subgroup of a subgroup counts in both, and in the parent after its own parent is destroyed.
  const triples = await Promise.all(groups.map((g) => g.newGroup([0, 1, 2])));
  const nested = await Promise.all(triples.map((t) => t?.newGroup([1, 2]) ?? null));
  await Promise.all([1, 2].map((r) => nested[r]!.allReduce(new Float32Array(512))));
  for (const r of [1, 2]) {
    assert.deepEqual(triples[r]!.traffic(), nested[r]!.traffic(), `rank ${r}: the triple's totals are its nested pair's`);
    assert.ok(nested[r]!.traffic().sent >= 2048);
  }
  await Promise.all([0, 1, 2].map((r) => triples[r]!.destroy()));
  for (const r of [1, 2]) {
    assert.deepEqual(minus(groups[r]!.traffic(), live[r]!), nested[r]!.traffic(), `rank ${r}: the nested pair's bytes stay in the parent`);
  }
  await destroyAll(groups);
});

test("a group of one rank, and a one-rank subgroup, move no bytes", async () => {
  const alone = await initProcessGroup({ env: {} });
  assert.equal(alone.transport, "single");
  await alone.allReduce(new Float32Array(1000));
  assert.deepEqual(alone.traffic(), { sent: 0, received: 0 });
  await alone.destroy();

  const groups = createInProcessGroups(2);
  const one = await groups[1]!.newGroup([1]);
  await one!.broadcast(new Float32Array(1000), 0);
  assert.deepEqual([one!.traffic(), groups[1]!.traffic()], [{ sent: 0, received: 0 }, { sent: 0, received: 0 }]);
  await destroyAll(groups);
});

// ---- between processes ------------------------------------------------------------------------

const TCP = { WEFT_SHM: "0" };

for (const w of [2, 3]) {
  test(`over TCP with ${w} ranks, an all-reduce sends and receives the ring's 2(w-1)/w of the buffer plus at most 32 bytes a frame; bf16 halves the payload`, async () => {
    const by = checks(await spawnRanks({ worldSize: w, script: "traffic-worker.js", args: ["allreduce"], env: TCP, timeoutMs: 60_000 }));
    const rows = by.get("allreduce") ?? [];
    assert.equal(rows.length, w);
    for (const row of rows) {
      assert.equal(row.transport, "tcp");
      assert.equal(row.ok, true, `rank ${row.rank}: wrong sums`);
      for (const [wire, elementBytes] of [["f32", 4], ["bf16", 2]] as const) {
        const { payload, frames } = ring(w, row.floats as number, row.segmentBytes as number, elementBytes);
        // The worker's readings may also take in the descriptors of the two barriers around the
        // all-reduce: (w-1) frames each (traffic-worker.ts: measured).
        const most = payload + FRAME_HEADER_BYTES * (frames + 2 * (w - 1));
        const t = row[wire] as Traffic;
        for (const dir of ["sent", "received"] as const) {
          assert.ok(t[dir] >= payload && t[dir] <= most, `rank ${row.rank}, ${wire}: ${dir} ${t[dir]} bytes, expected ${payload}..${most}`);
        }
      }
    }
  });
}

test("over TCP, what rank 0 sent is exactly what rank 1 received and the other way round, and a send of m floats makes the difference", async () => {
  const by = checks(await spawnRanks({ worldSize: 2, script: "traffic-worker.js", args: ["p2p"], env: TCP, timeoutMs: 60_000 }));
  const rows = (by.get("p2p") ?? []).sort((a, b) => (a.rank as number) - (b.rank as number));
  assert.equal(rows.length, 2);
  assert.ok(rows.every((r) => r.ok === true), "the message arrived");
  const [t0, t1] = rows.map((r) => r.total as Traffic);
  assert.ok(t0!.sent > 0 && t1!.sent > 0);
  assert.equal(t0!.sent, t1!.received, "rank 0's sent bytes are rank 1's received bytes");
  assert.equal(t1!.sent, t0!.received, "rank 1's sent bytes are rank 0's received bytes");
  // Everything else (Hello frames, the barrier's descriptors) is the same both ways: the
  // difference is the message, 4m bytes, and a header per segment.
  const m = rows[0]!.floats as number;
  const segments = Math.ceil((4 * m) / (rows[0]!.segmentBytes as number));
  assert.equal(t0!.sent - t1!.sent, 4 * m + FRAME_HEADER_BYTES * segments);
});

test("over TCP, a subgroup's bytes show in its parent's totals while it lives and after it is destroyed", async () => {
  const by = checks(await spawnRanks({ worldSize: 2, script: "traffic-worker.js", args: ["subgroup"], env: TCP, timeoutMs: 60_000 }));
  const rows = by.get("subgroup") ?? [];
  assert.equal(rows.length, 2);
  for (const row of rows) {
    assert.equal(row.ok, true, `rank ${row.rank}: wrong sums`);
    assert.equal(row.subTransport, "tcp");
    const live = row.live as { parent: Traffic; sub: Traffic };
    const destroyed = row.destroyed as { parent: Traffic; sub: Traffic };
    const least = (2 * 4 * (row.floats as number)) / 2; // the ring at w = 2: the whole buffer
    assert.ok(live.sub.sent >= least && live.sub.received >= least, `rank ${row.rank}: the subgroup counted ${JSON.stringify(live.sub)}`);
    assert.deepEqual(live.parent, live.sub, `rank ${row.rank}: the parent's links were idle, so its new bytes are the subgroup's`);
    assert.deepEqual(destroyed.sub, live.sub, `rank ${row.rank}: a destroyed subgroup keeps its totals`);
    assert.deepEqual(destroyed.parent, live.sub, `rank ${row.rank}: the parent keeps a destroyed subgroup's bytes`);
  }
});

test("through shared memory with 3 ranks, collectives count the bytes written to and read from the segment, and a send its TCP frames", async () => {
  const w = 3;
  const by = checks(await spawnRanks({ worldSize: w, script: "traffic-worker.js", args: ["shm"], env: { WEFT_LOCAL_WORLD_SIZE: String(w) }, timeoutMs: 60_000 }));
  const rows = by.get("shm") ?? [];
  assert.equal(rows.length, w);
  for (const row of rows) {
    assert.equal(row.transport, "shared-memory");
    const r = row.rank as number;
    const bytes = 4 * (row.floats as number);
    // Note [shared-memory traffic]: written into this rank's slots, read from the others'.
    assert.deepEqual(row.allReduce, { sent: bytes, received: bytes * (w - 1) }, `rank ${r}: all-reduce`);
    assert.deepEqual(row.reduceScatter, { sent: bytes * w, received: bytes * (w - 1) }, `rank ${r}: reduce-scatter`);
    assert.deepEqual(row.allGather, { sent: bytes, received: bytes * (w - 1) }, `rank ${r}: all-gather`);
    assert.deepEqual(row.broadcast, r === 1 ? { sent: bytes, received: 0 } : { sent: 0, received: bytes }, `rank ${r}: broadcast from 1`);
    assert.deepEqual(row.barrier, { sent: 0, received: 0 }, `rank ${r}: barrier`);
    // The send takes the TCP links: one frame (the message is below a segment).
    const frame = bytes + FRAME_HEADER_BYTES * Math.ceil(bytes / (row.segmentBytes as number));
    const expected = r === 0 ? { sent: frame, received: 0 } : r === 1 ? { sent: 0, received: frame } : { sent: 0, received: 0 };
    assert.deepEqual(row.send, expected, `rank ${r}: send from 0 to 1`);
  }
});
