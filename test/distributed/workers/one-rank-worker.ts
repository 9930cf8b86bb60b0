// One script for one process and for a launched job (test/distributed/one-rank-group.test.ts):
// an all-reduce, a broadcast and a barrier, then one JSON line with what came out.
import { initProcessGroup } from "../../../src/distributed/group/init.js";
import { sharedFloat32Array } from "../../../src/distributed/base/shared-buffer.js";

const pg = await initProcessGroup();
const grads = sharedFloat32Array(4).fill(pg.rank + 1);
await pg.allReduce(grads, { op: "avg" });
const weights = sharedFloat32Array(3).fill(pg.rank === 0 ? 7 : -1);
await pg.broadcast(weights, 0);
await pg.barrier();
console.log(JSON.stringify({ rank: pg.rank, worldSize: pg.worldSize, transport: pg.transport, avg: [...grads], weights: [...weights] }));
await pg.destroy();
