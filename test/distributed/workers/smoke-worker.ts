import { initProcessGroup } from "../../../src/distributed/group/init.js";
import { sharedFloat32Array } from "../../../src/distributed/base/shared-buffer.js";
const pg = await initProcessGroup();
const b = sharedFloat32Array(1000);
b.fill(pg.rank + 1);
await pg.allReduce(b);
console.log(JSON.stringify({ rank: pg.rank, v: b[0], title: process.title }));
await pg.destroy();
