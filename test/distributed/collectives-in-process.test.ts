// Collectives on the in-process transport: same engine and algorithms as over TCP.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createInProcessGroups } from "../../src/distributed/group/in-process-group.js";
import { InProcessHub } from "../../src/distributed/transport/in-process-transport.js";
import { CollectiveMismatchError, CollectiveTimeoutError, PeerLostError } from "../../src/distributed/base/errors.js";
import { bitwiseEqual, orderSensitiveInputs, recursiveDoublingReference, ringReference } from "./helpers/reference-sum.js";

// Small segments so that the odd sizes below exercise many segments per chunk.
const SMALL = 256;
const SEGMENT = 64;

async function allReduceCase(world: number, count: number, average: boolean): Promise<void> {
  const groups = createInProcessGroups(world, { smallMessageBytes: SMALL, segmentBytes: SEGMENT * 4 });
  const inputs = orderSensitiveInputs(world, count, count + world);
  const bufs = inputs.map((x) => Float32Array.from(x));
  await Promise.all(groups.map((g, r) => g.allReduce(bufs[r]!, { op: average ? "avg" : "sum" })));
  const ring = count * 4 > SMALL && count >= world;
  const expected = ring ? ringReference(inputs, average) : recursiveDoublingReference(inputs, average);
  for (let r = 0; r < world; r++) {
    assert.ok(bitwiseEqual(bufs[r]!, expected), `rank ${r} of ${world}, ${count} floats (${ring ? "ring" : "recursive doubling"}) differs from the documented order`);
  }
  await Promise.all(groups.map((g) => g.destroy()));
}

test("all-reduce sum and avg equal the documented-order single-process sum, bitwise, on every rank", async () => {
  for (const world of [1, 2, 3, 4, 5]) {
    for (const count of [0, 1, 3, 17, 63, 64, 65, 1000]) {
      await allReduceCase(world, count, false);
      await allReduceCase(world, count, true);
    }
  }
});

test("all-reduce of 1000003 floats over 3 ranks (ring, uneven chunks)", async () => {
  const groups = createInProcessGroups(3);
  const inputs = orderSensitiveInputs(3, 1000003, 7);
  const bufs = inputs.map((x) => Float32Array.from(x));
  await Promise.all(groups.map((g, r) => g.allReduce(bufs[r]!)));
  const expected = ringReference(inputs, false);
  for (const b of bufs) assert.ok(bitwiseEqual(b, expected));
  await Promise.all(groups.map((g) => g.destroy()));
});

test("a staging window smaller than a step still gives the documented sums (early frames kept)", async () => {
  for (const world of [2, 3, 4]) {
    const groups = createInProcessGroups(world, { segmentBytes: 64, stagingBytes: 128, smallMessageBytes: 0 });
    const inputs = orderSensitiveInputs(world, 5003, world);
    const bufs = inputs.map((x) => Float32Array.from(x));
    await Promise.all(groups.map((g, r) => g.allReduce(bufs[r]!)));
    const expected = ringReference(inputs, false);
    for (const b of bufs) assert.ok(bitwiseEqual(b, expected), `world ${world}`);
    await Promise.all(groups.map((g) => g.destroy()));
  }
});

test("reduce-scatter gives rank r chunk r of the sum and leaves the input untouched", async () => {
  for (const world of [2, 3]) {
    const m = 17;
    const groups = createInProcessGroups(world, { segmentBytes: 16 });
    const inputs = orderSensitiveInputs(world, world * m, 3);
    const copies = inputs.map((x) => Float32Array.from(x));
    const outs = inputs.map(() => new Float32Array(m));
    await Promise.all(groups.map((g, r) => g.reduceScatter(copies[r]!, outs[r]!)));
    const full = ringReference(inputs, false);
    for (let r = 0; r < world; r++) {
      assert.ok(bitwiseEqual(outs[r]!, full.subarray(r * m, r * m + m)), `rank ${r}`);
      assert.ok(bitwiseEqual(copies[r]!, inputs[r]!), "input changed");
    }
    await Promise.all(groups.map((g) => g.destroy()));
  }
});

test("all-gather puts rank r's input at r·m on every rank", async () => {
  for (const world of [2, 3]) {
    for (const m of [0, 1, 17, 300]) {
      const groups = createInProcessGroups(world, { segmentBytes: 64 });
      const inputs = orderSensitiveInputs(world, m, 5);
      const outs = inputs.map(() => new Float32Array(world * m));
      await Promise.all(groups.map((g, r) => g.allGather(inputs[r]!, outs[r]!)));
      const expected = new Float32Array(world * m);
      inputs.forEach((x, r) => expected.set(x, r * m));
      for (const o of outs) assert.ok(bitwiseEqual(o, expected));
      await Promise.all(groups.map((g) => g.destroy()));
    }
  }
});

test("broadcast copies the root's buffer to every rank, for every root", async () => {
  for (const world of [2, 3]) {
    for (let root = 0; root < world; root++) {
      const groups = createInProcessGroups(world, { segmentBytes: 64 });
      const inputs = orderSensitiveInputs(world, 1001, root);
      const bufs = inputs.map((x) => Float32Array.from(x));
      await Promise.all(groups.map((g, r) => g.broadcast(bufs[r]!, root)));
      for (const b of bufs) assert.ok(bitwiseEqual(b, inputs[root]!));
      await Promise.all(groups.map((g) => g.destroy()));
    }
  }
});

test("barrier completes only once every rank has arrived", async () => {
  const groups = createInProcessGroups(3);
  let late = false;
  const early = groups.slice(0, 2).map((g) => g.barrier());
  await new Promise((r) => setTimeout(r, 30));
  late = true;
  const all = [...early, groups[2]!.barrier()];
  await Promise.all(early.map((p) => p.then(() => assert.ok(late, "barrier finished before rank 2 arrived"))));
  await Promise.all(all);
  await Promise.all(groups.map((g) => g.destroy()));
});

test("send/recv deliver in order with tags, including empty messages", async () => {
  const [a, b] = createInProcessGroups(2, { segmentBytes: 64 });
  const x = Float32Array.from({ length: 100 }, (_, i) => i);
  const y = new Float32Array(100);
  const e = new Float32Array(0);
  await Promise.all([a!.send(x, 1, { tag: 5 }), a!.send(e, 1), b!.recv(y, 0, { tag: 5 }), b!.recv(new Float32Array(0), 0)]);
  assert.deepEqual(Array.from(y), Array.from(x));
  await Promise.all([a!.destroy(), b!.destroy()]);
});

test("ranks passing different sizes to one all-reduce all get CollectiveMismatchError naming both", async () => {
  const groups = createInProcessGroups(3);
  const sizes = [1000, 1000, 999];
  const results = await Promise.allSettled(groups.map((g, r) => g.allReduce(new Float32Array(sizes[r]!))));
  for (const [r, res] of results.entries()) {
    assert.equal(res.status, "rejected", `rank ${r} did not fail`);
    const err = (res as PromiseRejectedResult).reason;
    assert.ok(err instanceof CollectiveMismatchError, `rank ${r}: ${err}`);
    assert.match(err.message, /passed 1000 floats, rank 2 passed 999|rank 2 passed 999 floats, rank \d passed 1000/);
    assert.equal(err.seq, 0);
  }
  // The group stays failed.
  await assert.rejects(groups[0]!.barrier(), CollectiveMismatchError);
  await Promise.all(groups.map((g) => g.destroy()));
});

test("a rank that never arrives makes the others time out, naming it", async () => {
  const groups = createInProcessGroups(3, { timeoutMs: 100 });
  const results = await Promise.allSettled([groups[0]!.allReduce(new Float32Array(10)), groups[1]!.allReduce(new Float32Array(10))]);
  for (const res of results) {
    const err = (res as PromiseRejectedResult).reason;
    assert.ok(err instanceof CollectiveTimeoutError, String(err));
    assert.deepEqual(err.ranks, [2]);
    assert.match(err.message, /all-reduce #0 did not finish within 100 ms: rank 2 never arrived/);
  }
  // The late rank learns from the others' aborts instead of waiting for its own deadline: its error
  // is the one another rank reported (100 ms), not its own (a minute, which no test run reaches).
  await assert.rejects(groups[2]!.allReduce(new Float32Array(10), { timeoutMs: 60_000 }), (err: unknown) => {
    assert.ok(err instanceof CollectiveTimeoutError, String(err));
    assert.match(err.message, /^rank [01] reported: all-reduce #0 did not finish within 100 ms/, "late rank waited for its own deadline");
    return true;
  });
  await Promise.all(groups.map((g) => g.destroy()));
});

test("a killed rank makes the others fail with PeerLostError", async () => {
  const hub = new InProcessHub(3);
  const groups = createInProcessGroups(3, { hub, timeoutMs: 5000 });
  const pending = [groups[0]!.allReduce(new Float32Array(1000)), groups[1]!.allReduce(new Float32Array(1000))];
  hub.kill(2);
  for (const p of pending) {
    await assert.rejects(p, (err: unknown) => err instanceof PeerLostError && err.ranks[0] === 2 && /rank 2/.test(err.message));
  }
  await Promise.all(groups.map((g) => g.destroy()));
});
