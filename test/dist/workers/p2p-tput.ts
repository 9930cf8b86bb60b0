import { initProcessGroup } from "../../../src/dist/init.js";
import { sharedFloat32Array } from "../../../src/dist/shared-buffer.js";
const seg = Number(process.argv[2] ?? 262144);
const pg = await initProcessGroup({ segmentBytes: seg });
const buf = sharedFloat32Array(16 << 20);
const ts: number[] = [];
for (let i = 0; i < 12; i++) {
  await pg.barrier();
  const t = performance.now();
  if (pg.rank === 0) await pg.send(buf, 1); else await pg.recv(buf, 0);
  await pg.barrier();
  ts.push(performance.now() - t);
}
ts.sort((a, b) => a - b);
if (pg.rank === 1) console.log(JSON.stringify({ seg, gbps: (64 << 20) / ts[6]! / 1e6 }));
await pg.destroy();
