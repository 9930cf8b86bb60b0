// A rank of the multi-machine test: one all-reduce across the two network namespaces.
import { initProcessGroup } from "../../../src/distributed/group/init.js";
import { sharedFloat32Array } from "../../../src/distributed/base/shared-buffer.js";

const pg = await initProcessGroup({ connectTimeoutMs: 120_000 }); // the other node may start late on a loaded machine
const buf = sharedFloat32Array(300_000).fill(pg.rank + 1);
await pg.allReduce(buf);
console.log(JSON.stringify({ rank: pg.rank, worldSize: pg.worldSize, ok: buf.every((v) => v === 3) }));
await pg.destroy();
