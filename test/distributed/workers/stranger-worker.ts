// A rank of the stranger test: waits for the test's "go", then runs all-reduces while a stranger
// hammers rank 0's listener, and reports whether every result was right.
import { initProcessGroup, initWorker } from "../../../src/distributed/group/init.js";
import { StoreClient } from "../../../src/distributed/rendezvous/store-client.js";
import { secretKey } from "../../../src/distributed/wire/secret.js";
import { sharedFloat32Array } from "../../../src/distributed/base/shared-buffer.js";

const info = initWorker();
const pg = await initProcessGroup({ groupName: "stranger-test" });
const store = await StoreClient.connect({ host: info.masterAddr, port: info.masterPort, secret: secretKey(info.secret) });
await store.get("go", 120_000); // the test's first refused attempt comes first; no deadline is under test
store.close();
let ok = true;
const buf = sharedFloat32Array(64 << 10);
for (let i = 0; i < 100; i++) {
  buf.fill(pg.rank + 1);
  await pg.allReduce(buf);
  ok &&= buf.every((v) => v === 3);
}
process.stdout.write(`${JSON.stringify({ rank: pg.rank, ok })}\n`);
await pg.destroy();
