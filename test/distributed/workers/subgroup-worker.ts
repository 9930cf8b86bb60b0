// A rank of the subgroup tests between processes (test/distributed/subgroups.test.ts), 4 ranks.
// Prints JSON lines {"check":name,"ok":bool,"transport":...} or {"check":name,"error":class,...}.
//   concurrent: subgroups [1, 3] and [0, 2] all-reduce at the same time, then the parent, then a
//               transposed tensor view on the parent;
//   mismatch:   ranks 1 and 3 pass different sizes inside [1, 3];
//   kill:       rank 3 dies inside [1, 3] while rank 1 all-reduces there;
//   absent:     rank 3 never calls newGroup([1, 3]), so rank 1's call fails at its connect deadline.
import { initProcessGroup } from "../../../src/distributed/group/init.js";
import { sharedFloat32Array } from "../../../src/distributed/base/shared-buffer.js";
import { tensor } from "../../../src/tensor/create.js";
import { transpose } from "../../../src/tensor/ops/shape-ops.js";
import { reportError as report } from "../helpers/report-error.js";

const scenario = process.argv[2];
const pg = await initProcessGroup({ smallMessageBytes: 256, segmentBytes: 4096, timeoutMs: 10_000, shmChunkBytes: 4096 });
const { rank } = pg;
const out = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify({ rank, ...o })}\n`);

const reportError = (what: string, p: Promise<unknown>, t0?: number): Promise<void> => report(out, what, p, t0);

switch (scenario) {
  case "concurrent": {
    // Every rank makes both subgroups (getting null for the other one), as a script would.
    const odd = await pg.newGroup([1, 3]);
    const even = await pg.newGroup([0, 2]);
    const mine = odd ?? even!;
    // 5000 floats take the ring in several segments; the two subgroups' sums differ.
    const buf = sharedFloat32Array(5000).map((_, i) => rank * 10 + i);
    await mine.allReduce(buf);
    const [a, b] = odd ? [1, 3] : [0, 2];
    out({ check: "subgroup", transport: mine.transport, ok: buf.every((v, i) => v === (a! + b!) * 10 + 2 * i) && mine.rank === (odd ? [1, 3] : [0, 2]).indexOf(rank) });

    const all = sharedFloat32Array(3000).fill(rank + 1);
    await pg.allReduce(all);
    out({ check: "parent", transport: pg.transport, ok: all.every((v) => v === 10) });

    // A transposed (non-contiguous) 3 × 2 view: element [i][j] is storage[j * 3 + i].
    const storage = Float32Array.from({ length: 6 }, (_, i) => rank * 100 + i);
    const view = transpose(tensor(storage, [2, 3]));
    await pg.allReduce(view);
    const expected = Float32Array.from({ length: 6 }, (_, i) => 600 + 4 * i);
    out({ check: "tensor", transport: pg.transport, ok: storage.every((v, i) => v === expected[i]) });
    break;
  }
  case "mismatch": {
    const sub = await pg.newGroup([1, 3]);
    if (sub) await reportError("mismatch", sub.allReduce(sharedFloat32Array(rank === 3 ? 999 : 1000)));
    break;
  }
  case "kill": {
    const sub = await pg.newGroup([1, 3]);
    if (sub) {
      await sub.barrier();
      if (rank === 3) process.kill(process.pid, "SIGKILL");
      const t0 = performance.now();
      await reportError("kill", sub.allReduce(sharedFloat32Array(100_000), { timeoutMs: 5000 }), t0);
    }
    break;
  }
  case "absent": {
    if (rank === 1) await reportError("absent", pg.newGroup([1, 3], { connectTimeoutMs: 1000 }));
    if (rank === 3) await new Promise((r) => setTimeout(r, 1500)); // alive, but elsewhere
    break;
  }
  default:
    throw new Error(`unknown scenario ${scenario}`);
}
await pg.destroy();
