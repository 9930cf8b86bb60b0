// The flight recorder between real processes: each rank's records of its collectives carry the
// engine's sequence numbers, and how long it waited for each peer, over TCP (Arrive frames) and
// through shared memory (arrival stamps, Note [shm arrival stamps]). Rank 1 enters every
// all-reduce 300 ms after rank 0, so rank 0 waits at least most of that for it and rank 1 waits
// less for rank 0 than rank 0 waited for rank 1 (the bound is loose: the machine may be loaded).
// These all-reduces run inline in a native call on both transports (shared memory; the fast TCP
// links), which times them (Note [native call spans]): each record's start and end must lie
// between the worker's own clock readings around the call, and rank 0's must span its wait.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { FlightRecord } from "../../../src/distributed/group/flight-recorder.js";
import { spawnRanks } from "../helpers/spawn-ranks.js";
import { assertRanksExitedCleanly } from "../helpers/rank-checks.js";

for (const [transport, env] of [["tcp", { WEFT_SHM: "0" }], ["shared-memory", { WEFT_LOCAL_WORLD_SIZE: "2" }]] as const) {
  test(`over ${transport}: every rank records its collectives in order, and the waits name the late rank`, async () => {
    const results = await spawnRanks({ worldSize: 2, script: "flight-worker.js", args: ["late"], env: { ...env, WEFT_SHM: env.WEFT_SHM ?? "1" } });
    assertRanksExitedCleanly(results);
    const out = results.map((r) => {
      return r.json[0] as { rank: number; transport: string; records: FlightRecord[]; waits: Record<string, number>; around: [number, number][] };
    });
    for (const o of out) {
      assert.equal(o.transport, transport);
      const reduces = o.records.filter((r) => r.op === "all-reduce");
      assert.deepEqual(reduces.map((r) => [r.seq, r.state, r.count, r.group, r.peers]), [0, 1, 2].map((s) => [s, "completed", 1000, "world#0", [0, 1]]));
      for (const [i, r] of reduces.entries()) {
        const [before, after] = o.around[i]!;
        // 0.01 ms: the records are rounded to µs, and the two clocks' offset is read to a fraction of one.
        assert.ok(r.start >= before - 0.01 && r.end! >= r.start && r.end! <= after + 0.01, `rank ${o.rank}'s all-reduce #${i}: [${r.start}, ${r.end}] is not inside [${before}, ${after}]`);
        if (o.rank === 0) assert.ok(r.end! - r.start >= 150, `rank 0's all-reduce #${i} lasted ${r.end! - r.start} ms, though it waited for rank 1`);
      }
    }
    const waited = (rank: number, peer: number): number[] => out[rank]!.records.filter((r) => r.op === "all-reduce").map((r) => r.waited_ms![String(peer)]!);
    for (const ms of waited(0, 1)) assert.ok(ms >= 150, `rank 0 waited ${ms} ms for rank 1, which came 300 ms late`);
    for (const [i, ms] of waited(1, 0).entries()) assert.ok(ms < waited(0, 1)[i]!, `rank 1 waited ${ms} ms for rank 0, which was there first`);
    // The step's sum: what the training loop writes as wait_for.
    assert.ok(out[0]!.waits["1"]! >= 450, `rank 0's total wait for rank 1: ${out[0]!.waits["1"]}`);
  });
}
