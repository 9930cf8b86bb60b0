// Small all-reduces over TCP on the calling thread (executors/fast-executor.ts, Note [fast link
// frames] in native/dist/tcp-fast.h), between real processes: the bits of recursive doubling on
// every rank, frames of the fast links' own size (so the fast path really ran), one numbering of
// collectives across the fast path and the comm thread, and calls that differ, on one path or
// across the two, failing at once with a mismatch that names both.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnRanks } from "./helpers/spawn-ranks.js";
import { checks } from "./helpers/rank-checks.js";

for (const world of [2, 3, 4, 5]) {
  test(`fast all-reduces over TCP with ${world} ranks: recursive doubling's bits on every rank, on the fast links, one numbering with the comm thread`, async () => {
    const by = checks(await spawnRanks({ worldSize: world, script: "collectives-worker.js", args: ["fast"] }));
    const sizes = world === 2 ? 4 : 3;
    assert.equal(by.size, 2 * sizes + 1);
    for (const [name, rows] of by) {
      assert.equal(rows.length, world, name);
      if (name === "fast numbering") {
        const seq = 2 * sizes + 2;
        for (const row of rows) {
          assert.equal(row.error, "CollectiveMismatchError", JSON.stringify(row));
          // Its own finding, a peer's report, or (a rank that got there after the report) a refusal quoting it.
          assert.match(row.message as string, new RegExp(`all-reduce #${seq}: rank \\d passed [45] floats, rank \\d passed [45]; every rank must pass buffers of the same size\\)?$`));
        }
        continue;
      }
      for (const row of rows) {
        assert.equal(row.transport, "tcp");
        assert.equal(row.ok, true, `${name} on rank ${row.rank}`);
        assert.equal(row.fastFrames, true, `${name} on rank ${row.rank}: not the fast links' traffic`);
      }
      assert.equal(new Set(rows.map((r) => r.hash)).size, 1, `${name}: ranks differ`);
    }
  });
}

test("ranks whose all-reduce is small on one and large on the other fail at once with a mismatch naming both sizes", async () => {
  const results = await spawnRanks({ worldSize: 2, script: "collectives-worker.js", args: ["fast-cross"] });
  for (const r of results) {
    const row = r.json.find((j) => j.check === "fast-cross");
    assert.ok(row, `rank ${r.rank} reported no outcome:\n${r.stderr}`);
    assert.equal(row.error, "CollectiveMismatchError", JSON.stringify(row));
    assert.match(row.message as string, /all-reduce #0: rank [01] passed (3|524288) floats, rank [01] passed (3|524288); every rank must pass buffers of the same size$/);
    // Well before the call's 2 s deadline: the fast rank read the other's announcement where it waited for data.
    assert.ok((row.ms as number) < 1500, `took ${row.ms} ms`);
  }
});

test("two ranks' all-reduces past 1 MiB run in halves on the fast links: recursive doubling's bits, the whole buffer once each way, and the caller's thread free while they run", async () => {
  const by = checks(await spawnRanks({ worldSize: 2, script: "collectives-worker.js", args: ["halves"] }));
  assert.equal(by.size, 6);
  for (const [name, rows] of by) {
    assert.equal(rows.length, 2, name);
    for (const row of rows) {
      assert.equal(row.ok, true, `${name} on rank ${row.rank}`);
      assert.equal(row.fastFrames, true, `${name} on rank ${row.rank}: not one fast-link frame each way`);
    }
    assert.equal(new Set(rows.map((r) => r.hash)).size, 1, `${name}: ranks differ`);
  }
  // 16 MiB takes milliseconds over loopback, during which a 1 ms timer fires on the caller's thread.
  for (const row of [...by.get(`halves ${4 << 20} sum`)!, ...by.get(`halves ${4 << 20} avg`)!]) {
    assert.ok((row.ticks as number) >= 1, `rank ${row.rank}: no timer ran during the all-reduce (its thread was blocked)`);
  }
});

test("two ranks whose size thresholds differ (one runs an all-reduce in halves, the other by recursive doubling) fail at once, naming both and the option", async () => {
  const results = await spawnRanks({ worldSize: 2, script: "collectives-worker.js", args: ["halves-threshold"] });
  for (const r of results) {
    const row = r.json.find((j) => j.check === "halves-threshold");
    assert.ok(row, `rank ${r.rank} reported no outcome:\n${r.stderr}`);
    assert.equal(row.error, "CollectiveMismatchError", JSON.stringify(row));
    assert.match(row.message as string, /all-reduce #0: rank [01] ran it (in halves|by recursive doubling), rank [01] (in halves|by recursive doubling), so their fastMessageBytes differ; every rank must use the same\)?$/);
    assert.ok((row.ms as number) < 1500, `took ${row.ms} ms`);
  }
});

// Two ranks' fast collectives, inline (400 KB) and in halves (16 MiB): a killed peer closes the
// fast link; a frozen one leaves it open, and its silence on the comm thread's links (1 s) stops
// the collective, well before the call's deadline (5 s; 30 s for the kill).
for (const [size, args] of [["400 KB, inline", []], ["16 MiB, in halves", ["big"]]] as const) {
  test(`two ranks, ${size}: a killed peer is a PeerLostError naming it, and a frozen one too, as soon as it falls silent`, async () => {
    const killed = await spawnRanks({ worldSize: 2, script: "collectives-worker.js", args: ["kill", ...args] });
    assert.equal(killed[1]!.signal, "SIGKILL");
    const kill = killed[0]!.json.find((j) => j.check === "kill");
    assert.ok(kill, `rank 0 reported no outcome:\n${killed[0]!.stderr}`);
    assert.equal(kill.error, "PeerLostError", JSON.stringify(kill));
    assert.match(kill.message as string, /all-reduce #1: lost the connection to rank 1/);
    assert.ok((kill.ms as number) < 15_000, `took ${kill.ms} ms`);

    const frozen = await spawnRanks({ worldSize: 2, script: "collectives-worker.js", args: ["freeze", ...args], waitFor: [0] });
    const freeze = frozen[0]!.json.find((j) => j.check === "freeze");
    assert.ok(freeze, `rank 0 reported no outcome:\n${frozen[0]!.stderr}`);
    assert.equal(freeze.error, "PeerLostError", JSON.stringify(freeze));
    assert.match(freeze.message as string, /all-reduce #1: lost the connection to rank 1 \(silent for \d+ ms/);
    assert.ok((freeze.ms as number) < 4000, `took ${freeze.ms} ms`);
  });
}
