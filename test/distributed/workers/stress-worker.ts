// A rank of the randomized stress run: the same pseudo-random sequence of collectives on every
// rank (sizes, kinds, several in flight), small segments and staging so frames are often held.
import { initProcessGroup } from "../../../src/distributed/group/init.js";
import { sharedFloat32Array } from "../../../src/distributed/base/shared-buffer.js";

const ops = Number(process.argv[2] ?? 100);
const pg = await initProcessGroup({ segmentBytes: 4096, stagingBytes: 8192, smallMessageBytes: 2048, shmChunkBytes: 4096, timeoutMs: 20_000 });
const { rank, worldSize: w } = pg;
let s = 12345;
const rnd = (n: number): number => {
  s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
  return s % n;
};
let ok = true;
const pending: { check: () => boolean; wait: Promise<void> }[] = [];
for (let i = 0; i < ops; i++) {
  const n = [1, 7, 100, 1000, 5000, 20_000][rnd(6)]!;
  const kind = rnd(4);
  if (kind === 0) {
    const b = sharedFloat32Array(n).fill(rank + 1);
    pending.push({ wait: pg.allReduceAsync(b).wait(), check: () => b.every((v) => v === (w * (w + 1)) / 2) });
  } else if (kind === 1) {
    const root = rnd(w);
    const b = sharedFloat32Array(n).fill(rank === root ? 42 : 0);
    pending.push({ wait: pg.broadcastAsync(b, root).wait(), check: () => b.every((v) => v === 42) });
  } else if (kind === 2) {
    const out = sharedFloat32Array(n * w);
    pending.push({ wait: pg.allGatherAsync(sharedFloat32Array(n).fill(rank), out).wait(), check: () => out.every((v, k) => v === Math.floor(k / n)) });
  } else {
    const out = sharedFloat32Array(n);
    pending.push({ wait: pg.reduceScatterAsync(sharedFloat32Array(n * w).fill(1), out).wait(), check: () => out.every((v) => v === w) });
  }
  if (rnd(3) === 0) {
    for (const p of pending.splice(0)) {
      await p.wait;
      ok &&= p.check();
    }
  }
}
for (const p of pending.splice(0)) {
  await p.wait;
  ok &&= p.check();
}
process.stdout.write(`${JSON.stringify({ rank, ok, ops, transport: pg.transport })}\n`);
await pg.destroy();
