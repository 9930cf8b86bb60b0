// The traffic counter (Note [traffic counters]): counts written on one thread are read on another
// through shared memory, with no message, as consistent snapshots.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { once } from "node:events";
import { setImmediate as turn } from "node:timers/promises";
import { TrafficCounter } from "../../../src/distributed/base/traffic-counter.js";

test("a counter adds up sent and received bytes, seen through any view of its buffer, and refuses a buffer of the wrong size", () => {
  const c = new TrafficCounter();
  assert.deepEqual(c.read(), { sent: 0, received: 0 });
  c.addSent(32);
  c.addSent(2 ** 40); // past 32 bits: the cells are float64, exact to 2^53
  c.addReceived(7);
  const view = new TrafficCounter(c.buffer);
  assert.deepEqual(view.read(), { sent: 2 ** 40 + 32, received: 7 });
  assert.throws(() => new TrafficCounter(new SharedArrayBuffer(16)), /24-byte SharedArrayBuffer, got 16 bytes/);
});

test("counts a worker thread writes are read on the main thread while it writes: never torn, never ahead of each other", async () => {
  const c = new TrafficCounter();
  const n = 200_000;
  // The writer adds 1 sent, then 3 received, n times: any consistent snapshot has
  // 3·(sent - 1) <= received <= 3·sent.
  const url = new URL("../../../src/distributed/base/traffic-counter.js", import.meta.url).href;
  const worker = new Worker(
    `const { workerData, parentPort } = require("node:worker_threads");
     import(workerData.url).then(({ TrafficCounter }) => {
       const c = new TrafficCounter(workerData.buffer);
       for (let i = 0; i < workerData.n; i++) { c.addSent(1); c.addReceived(3); }
       parentPort.postMessage("done");
     });`,
    { eval: true, workerData: { url, buffer: c.buffer, n } },
  );
  let done = false;
  const finished = once(worker, "message").then(() => (done = true));
  let last = { sent: 0, received: 0 };
  let reads = 0;
  while (!done) {
    for (let i = 0; i < 1000; i++) {
      const t = c.read();
      assert.ok(t.sent >= last.sent && t.received >= last.received, `went back from ${JSON.stringify(last)} to ${JSON.stringify(t)}`);
      assert.ok(3 * (t.sent - 1) <= t.received && t.received <= 3 * t.sent, `inconsistent snapshot ${JSON.stringify(t)}`);
      last = t;
      reads++;
    }
    await turn(); // lets the worker's "done" message in
  }
  await finished;
  assert.deepEqual(c.read(), { sent: n, received: 3 * n });
  assert.ok(reads > 0);
  await worker.terminate();
});
