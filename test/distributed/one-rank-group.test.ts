// A script started without `weft launch` is rank 0 of a group of one (group/init.ts): every
// collective is the identity, with no socket or thread; under the launcher the same script is a
// worker of the job. A half-set WEFT_* environment is still an error naming what is missing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { initProcessGroup, initWorker } from "../../src/distributed/group/init.js";
import { launchJob } from "../../src/distributed/launch/launcher.js";
import { generateSecret } from "../../src/distributed/wire/secret.js";
import { flightRecorder } from "../../src/distributed/group/flight-recorder.js";
import { tensor } from "../../src/tensor/create.js";
import { transpose } from "../../src/tensor/ops/shape-ops.js";

const worker = fileURLToPath(new URL("./workers/one-rank-worker.js", import.meta.url));
const withoutWeft = (): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("WEFT_")));

test("without WEFT_RANK and WEFT_WORLD_SIZE, initProcessGroup gives rank 0 of 1 whose collectives are the identity", async () => {
  const pg = await initProcessGroup({ env: {} });
  assert.deepEqual([pg.rank, pg.worldSize, pg.transport], [0, 1, "single"]);
  const x = Float32Array.of(1, 1 / 3, -0);
  const bits = [...new Uint32Array(x.slice().buffer)];
  await pg.allReduce(x, { op: "avg" });
  await pg.allReduce(x, { wire: "bf16" });
  assert.deepEqual([...new Uint32Array(x.buffer)], bits, "bit for bit");
  const gathered = new Float32Array(3);
  await pg.allGather(x, gathered);
  const scattered = new Float32Array(3);
  await pg.reduceScatter(x, scattered);
  assert.deepEqual([[...gathered], [...scattered]], [[...x], [...x]]);
  const t = transpose(tensor([1, 2, 3, 4], [2, 2]));
  await pg.broadcast(t, 0);
  await pg.barrierAsync().wait();
  assert.deepEqual([...t.data], [1, 2, 3, 4]);
  await assert.rejects(pg.send(x, 1), RangeError, "there is nobody to send to");
  await assert.rejects(pg.broadcast(x, 1), /root 1 is not a rank of this group \(0\.\.0\)/);
  assert.equal(await pg.newGroup([0]).then((g) => g?.transport), "single");
  await pg.destroy();
  await assert.rejects(pg.allReduce(x), /destroyed/);

  const w = initWorker({ WEFT_RUN_DIR: "/tmp/r" });
  assert.deepEqual([w.rank, w.worldSize, w.localRank, w.localWorldSize, w.cpus, w.runDir], [0, 1, 0, 1, null, "/tmp/r"]);
});

test("a collective of a group of one has completed when it returns; an error still comes through wait(), and both are recorded", async () => {
  // Note [collectives that complete on the spot] in src/distributed/group/process-group.ts.
  const pg = await initProcessGroup({ env: {} });
  const work = pg.allReduceAsync(Float32Array.of(1, 2));
  assert.equal(work.isCompleted(), true, "settled before anything was awaited");
  const last = (): { op: string; state: string } => flightRecorder.records().at(-1)!;
  assert.deepEqual([last().op, last().state], ["all-reduce", "completed"]);
  await work.wait();
  pg.abort("test");
  const refused = pg.barrierAsync();
  await assert.rejects(refused.wait(), /aborted its one-rank group: test/);
  assert.equal(refused.isCompleted(), true);
  assert.deepEqual([last().op, last().state], ["barrier", "failed"]);
  await pg.destroy();
});

test("with some WEFT_* variables set but not all, initProcessGroup names the missing one", async () => {
  await assert.rejects(initProcessGroup({ env: { WEFT_RANK: "0" } }), /WEFT_WORLD_SIZE is not set: start this script with `weft launch/);
  await assert.rejects(initProcessGroup({ env: { WEFT_WORLD_SIZE: "2" } }), /WEFT_RANK is not set.*unset both WEFT_RANK and WEFT_WORLD_SIZE/);
  assert.throws(() => initWorker({ WEFT_RANK: "0", WEFT_WORLD_SIZE: "1" }), /WEFT_MASTER_ADDR is not set/);
});

test("the same script runs alone with `node` and as 2 workers under the launcher", async () => {
  const alone = spawnSync(process.execPath, [worker], { env: withoutWeft(), encoding: "utf8", timeout: 30_000 });
  assert.equal(alone.status, 0, alone.stderr);
  assert.deepEqual(JSON.parse(alone.stdout.trim()), { rank: 0, worldSize: 1, transport: "single", avg: [1, 1, 1, 1], weights: [7, 7, 7] });

  const dir = mkdtempSync(join(tmpdir(), "weft-one-rank-"));
  try {
    const lines: [number, string][] = [];
    const logs: string[] = [];
    const job = await launchJob({
      nproc: 2, nnodes: 1, nodeRank: 0, rdzvHost: "127.0.0.1", rdzvPort: 0, secret: generateSecret(), script: worker, args: [],
      runDir: join(dir, "run"), graceMs: 1000, liveMetrics: false, env: withoutWeft(),
      onLine: (rank, stream, line) => stream === "stdout" && lines.push([rank, line]), log: (m) => logs.push(m),
    });
    assert.equal(job.exitCode, 0, logs.join("\n"));
    const rows = lines.filter(([, l]) => l.startsWith("{")).map(([, l]) => JSON.parse(l) as Record<string, unknown>).sort((a, b) => (a.rank as number) - (b.rank as number));
    assert.equal(rows.length, 2, JSON.stringify(lines));
    // Two workers on one machine: a real group, whose collectives go through shared memory by default.
    rows.forEach((row, rank) => {
      assert.deepEqual(row, { rank, worldSize: 2, transport: "shared-memory", avg: [1.5, 1.5, 1.5, 1.5], weights: [7, 7, 7] });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
