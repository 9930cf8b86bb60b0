// A job no launcher started: rank 0 serves the rendezvous store itself (rendezvous/embedded-store.ts),
// and a rank that cannot reach it fails in one line naming host:port, before any comm thread starts.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";
import { initProcessGroup } from "../../../src/distributed/group/init.js";
import { freePort } from "../../helpers/free-port.js";

const secret = "a secret of at least sixteen characters";


test("explicit options and no launcher: rank 0 serves the store, both ranks meet and all-reduce, and destroy stops it", async () => {
  const port = await freePort();
  // One group name for both: in one process the default name counts the groups made here.
  const common = { env: {}, worldSize: 2, masterAddr: "127.0.0.1", masterPort: port, secret, sharedMemory: false, groupName: "both" };
  const [a, b] = await Promise.all([initProcessGroup({ ...common, rank: 0 }), initProcessGroup({ ...common, rank: 1 })]);
  const x = new Float32Array([1, 2]);
  const y = new Float32Array([10, 20]);
  await Promise.all([a.allReduce(x), b.allReduce(y)]);
  assert.deepEqual([...x], [11, 22]);
  assert.deepEqual([...y], [11, 22]);
  await Promise.all([a.destroy(), b.destroy()]);
  // The store is gone with rank 0's group: its port is free again.
  const again = createServer();
  await new Promise<void>((r, j) => again.once("error", j).listen(port, "0.0.0.0", r));
  await new Promise((r) => again.close(r));
});

test("a rendezvous host that does not resolve, or a port nobody serves, fails at once in one line naming host:port", async () => {
  const started = Date.now();
  await assert.rejects(
    initProcessGroup({ env: {}, rank: 1, worldSize: 2, masterAddr: "no-such-node.invalid", masterPort: 29999, secret }),
    /^StoreError: rank 1 cannot reach the rendezvous store at no-such-node\.invalid:29999 within 30 s \(.*ENOTFOUND.*\): check that rank 0 is running there/,
  );
  const port = await freePort();
  await assert.rejects(
    initProcessGroup({ env: {}, rank: 1, worldSize: 2, masterAddr: "127.0.0.1", masterPort: port, secret, rendezvousTimeoutMs: 300 }),
    new RegExp(`^StoreError: rank 1 cannot reach the rendezvous store at 127\\.0\\.0\\.1:${port} within 0\\.3 s \\(.*ECONNREFUSED.*\\)`),
  );
  // Far below the 60 s a group's setup would wait for its links.
  assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
  await assert.rejects(
    initProcessGroup({ env: {}, rank: 0, worldSize: 2, masterAddr: "no-such-node.invalid", masterPort: port, secret }),
    new RegExp(`^StoreError: rank 0 serves the rendezvous store on port ${port} but cannot reach it at no-such-node\\.invalid:${port}`),
  );
});
