// EtcdStore against a real 3-member etcd cluster on loopback: the RendezvousStore contract, then
// the faults it exists for. One cluster serves the whole file (starting one costs seconds); the
// tests run in order and the last one stops every member.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { EtcdStore, type EtcdStoreOptions } from "../../../src/distributed/rendezvous/etcd-store.js";
import { connectRendezvousStore } from "../../../src/distributed/rendezvous/connect-store.js";
import { StoreError, StoreTimeoutError } from "../../../src/distributed/base/errors.js";
import { EtcdCluster, etcdMissing } from "../helpers/etcd-cluster.js";
import { rendezvousStoreContract } from "../helpers/store-contract.js";

const missing = etcdMissing();
let cluster: EtcdCluster | undefined;
const stores: EtcdStore[] = [];
/** Each run's keys under their own prefix, as each job's are. */
const prefix = `weft-test/${randomBytes(4).toString("hex")}/`;

before(async () => {
  if (missing === undefined) cluster = await EtcdCluster.start(3);
});
after(async () => {
  for (const s of stores) s.close();
  await cluster?.close();
});

async function connect(extra: Partial<EtcdStoreOptions> = {}): Promise<EtcdStore> {
  const s = await EtcdStore.connect({ endpoints: cluster!.endpoints, prefix, timeoutMs: 10_000, connectTimeoutMs: 10_000, ...extra });
  stores.push(s);
  return s;
}

rendezvousStoreContract("EtcdStore on a 3-member cluster", async () => ({ connect: () => connect(), close: async () => undefined }), missing);

test("jobs with different prefixes never see each other's keys", async (t) => {
  if (missing !== undefined) return t.skip(missing);
  const a = await connect({ prefix: `${prefix}job-a/` });
  const b = await connect({ prefix: `${prefix}job-b/` });
  await a.set("launch/job-id", "a");
  await b.set("launch/job-id", "b");
  assert.equal(await a.getString("launch/job-id"), "a");
  assert.equal(await b.getString("launch/job-id"), "b");
  await assert.rejects(b.get("only-a", 200), StoreTimeoutError);
});

test("connectRendezvousStore(etcd://...) keeps the job's keys under weft/<job id>/", async (t) => {
  if (missing !== undefined) return t.skip(missing);
  const jobId = `job-${randomBytes(4).toString("hex")}`;
  const store = await connectRendezvousStore(`etcd://${cluster!.endpoints.join(",")}`, { secret: Buffer.alloc(32), jobId, timeoutMs: 10_000 });
  try {
    assert.equal(store.endpoint, `etcd ${cluster!.endpoints.join(",")}`);
    await store.set("launch/job-id", jobId);
  } finally {
    store.close();
  }
  const direct = await connect({ prefix: `weft/${jobId}/` });
  assert.equal(await direct.getString("launch/job-id"), jobId);
});

test("a 3-member cluster keeps working through SIGKILL of each member in turn", async (t) => {
  if (missing !== undefined) return t.skip(missing);
  const [a, b] = [await connect(), await connect()];
  await a.set("k/before", "kept");
  // Killing every member in turn (and restarting it) kills, at some point, the one each client's
  // calls and watch stream were going to, which is the case that matters.
  for (let i = 0; i < cluster!.size; i++) {
    const t0 = Date.now();
    // A get waiting across the kill: its watch may be on the member that dies.
    const pending = b.getString(`k/after-${i}`, 20_000);
    await new Promise((r) => setTimeout(r, 100));
    await cluster!.kill(i);
    await a.set(`k/after-${i}`, `set with member ${i} dead`);
    assert.equal(await pending, `set with member ${i} dead`);
    assert.equal(await b.getString("k/before"), "kept");
    assert.equal(await a.add("k/count"), i + 1);
    await b.wait(["k/before", `k/after-${i}`], 10_000);
    assert.equal(await a.delete(`k/after-${i}`), true);
    t.diagnostic(`member ${i} killed: every call answered within ${Date.now() - t0} ms`);
    await cluster!.restart(i);
  }
  assert.equal(await b.add("k/count", 0), cluster!.size);
});

test("a frozen member (SIGSTOP) costs each call seconds, never its deadline", async (t) => {
  if (missing !== undefined) return t.skip(missing);
  const [a, b] = [await connect(), await connect()];
  // A frozen member keeps its connections open and answers nothing: calls sent to it wait out an
  // attempt, and a watch on it stays silent until the store reads again (every 5 s).
  for (let i = 0; i < cluster!.size; i++) {
    const pending = b.getString(`f/after-${i}`, 30_000);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    cluster!.freeze(i);
    try {
      await a.set(`f/after-${i}`, `set with member ${i} frozen`);
      assert.equal(await pending, `set with member ${i} frozen`);
      assert.equal(await b.add("f/count"), i + 1);
      const took = Date.now() - t0;
      t.diagnostic(`member ${i} frozen: set, the pending get and an add took ${took} ms`);
      assert.ok(took < 15_000, `with member ${i} frozen the calls took ${took} ms`);
    } finally {
      cluster!.thaw(i);
    }
    await cluster!.waitHealthy(i);
  }
});

test("with every member stopped, each call fails within its deadline naming the endpoints", async (t) => {
  if (missing !== undefined) return t.skip(missing);
  const store = await connect({ timeoutMs: 2500 });
  await store.set("down/present", "yes");
  // One get is already waiting (its watch open) when the cluster goes.
  const t0 = Date.now();
  const waiting = store.get("down/waiting", 3000);
  waiting.catch(() => undefined); // judged below; not an unhandled rejection meanwhile
  await cluster!.killAll();
  const list = cluster!.endpoints.join(", ");
  const expectUnreachable = async (what: string, call: Promise<unknown>, deadlineMs: number, since = Date.now()): Promise<void> => {
    const err = await call.then(() => undefined, (e: unknown) => e);
    const took = Date.now() - since;
    assert.ok(err instanceof StoreError && !(err instanceof StoreTimeoutError), `${what}: expected a StoreError, got ${String(err)}`);
    assert.ok(err.message.includes(`etcd at ${list} did not answer within ${deadlineMs} ms`), `${what}: ${err.message}`);
    assert.ok(err.message.includes("check the etcd members are running and reachable"), `${what}: ${err.message}`);
    assert.ok(!err.message.includes("\n"), `${what}: the message spans lines: ${err.message}`);
    // The deadline plus a margin for a loaded 2-core machine; a hang would be far past it.
    assert.ok(took < deadlineMs + 2000, `${what}: took ${took} ms for a ${deadlineMs} ms deadline`);
  };
  await Promise.all([
    expectUnreachable("set", store.set("down/a", "1"), 2500),
    expectUnreachable("get", store.get("down/present"), 2500),
    // A read gets 2 s however short the wait, so a 1 ms get is "etcd did not answer", not "missing".
    expectUnreachable("get with a 1 ms deadline", store.get("down/present", 1), 2000),
    expectUnreachable("getString", store.getString("down/b", 2500), 2500),
    expectUnreachable("add", store.add("down/c"), 2500),
    expectUnreachable("wait", store.wait(["down/d", "down/e"], 2500), 2500),
    expectUnreachable("delete", store.delete("down/present"), 2500),
    expectUnreachable("setWithLease", store.setWithLease("down/f", "1", 5), 2500),
    expectUnreachable("a get waiting when etcd went", waiting, 3000, t0),
    expectUnreachable("connect", EtcdStore.connect({ endpoints: cluster!.endpoints, prefix, connectTimeoutMs: 1000 }), 1000),
  ]);
});

test("connect refuses endpoints that are not HOST:PORT and a prefix without a trailing slash", async () => {
  await assert.rejects(EtcdStore.connect({ endpoints: [], prefix }), /endpoints must be HOST:PORT, got none/);
  await assert.rejects(EtcdStore.connect({ endpoints: ["127.0.0.1:2379", "etcd0"], prefix }), /endpoints must be HOST:PORT, got "etcd0"/);
  await assert.rejects(EtcdStore.connect({ endpoints: ["127.0.0.1:2379"], prefix: "weft/job-1" }), /prefix must end in "\/".*got "weft\/job-1"/);
});
