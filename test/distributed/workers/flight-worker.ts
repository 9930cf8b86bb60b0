// A worker for the flight recorder's tests, run under `weft launch` or spawnRanks. Modes:
//  "skip": four all-reduces, then rank 1 never calls the fifth (it sleeps) while the others do,
//          with a 2 s deadline: the others fail, the launcher has rank 1 write its record.
//  "mismatch": after a barrier, rank 1 calls all-gather where the others call all-reduce; every
//          rank prints how long it took to fail and the message, then exits 1.
//  "late": three all-reduces that rank 1 enters 300 ms late; every rank prints its records, and
//          the epoch ms just before and after each all-reduce (`around`), to check the times.
import { setTimeout as sleep } from "node:timers/promises";
import { initProcessGroup } from "../../../src/distributed/group/init.js";
import { flightRecorder } from "../../../src/distributed/group/flight-recorder.js";

const mode = process.argv[2];
const pg = await initProcessGroup({ timeoutMs: 2000 });
const buf = new Float32Array(1000).fill(pg.rank);

if (mode === "skip") {
  for (let i = 0; i < 4; i++) await pg.allReduce(buf);
  if (pg.rank === 1) await sleep(60_000);
  await pg.allReduce(buf); // all-reduce #4, the fifth: rank 1 never comes
} else if (mode === "mismatch") {
  await pg.barrier();
  const t0 = performance.now();
  try {
    if (pg.rank === 1) await pg.allGather(buf, new Float32Array(1000 * pg.worldSize));
    else await pg.allReduce(buf);
  } catch (err) {
    console.log(JSON.stringify({ rank: pg.rank, ms: performance.now() - t0, name: (err as Error).name, message: (err as Error).message }));
    process.exit(1);
  }
} else if (mode === "late") {
  const epochMs = (): number => performance.timeOrigin + performance.now();
  const around: [number, number][] = [];
  for (let i = 0; i < 3; i++) {
    if (pg.rank === 1) await sleep(300);
    const before = epochMs();
    await pg.allReduce(buf);
    around.push([before, epochMs()]);
  }
  console.log(JSON.stringify({ rank: pg.rank, transport: pg.transport, records: flightRecorder.records(), waits: flightRecorder.takeWaits(), around }));
}
await pg.destroy();
