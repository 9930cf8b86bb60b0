// Keys bound to a lease (EtcdStore.setWithLease) live exactly as long as their holder: they outlast
// several TTLs while it renews them, vanish at once on revoke, and vanish within the TTL when the
// holder is SIGKILLed, which is how a job learns that a member died without anyone saying so.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { EtcdStore } from "../../../src/distributed/rendezvous/etcd-store.js";
import { StoreError, StoreTimeoutError } from "../../../src/distributed/base/errors.js";
import { EtcdCluster, etcdMissing } from "../helpers/etcd-cluster.js";

const missing = etcdMissing();
let cluster: EtcdCluster | undefined;
const stores: EtcdStore[] = [];
const prefix = `weft-test/${randomBytes(4).toString("hex")}/`;
const storeModule = fileURLToPath(new URL("../../../src/distributed/rendezvous/etcd-store.js", import.meta.url));

before(async () => {
  if (missing === undefined) cluster = await EtcdCluster.start(1);
});
after(async () => {
  for (const s of stores) s.close();
  await cluster?.close();
});

async function connect(): Promise<EtcdStore> {
  const s = await EtcdStore.connect({ endpoints: cluster!.endpoints, prefix, timeoutMs: 5000, connectTimeoutMs: 10_000 });
  stores.push(s);
  return s;
}

/** Whether `key` exists now, asked of etcd with a short wait. */
async function exists(store: EtcdStore, key: string): Promise<boolean> {
  return store.get(key, 100).then(
    () => true,
    (err: unknown) => {
      if (err instanceof StoreTimeoutError) return false;
      throw err;
    },
  );
}

/** Polls until `key` is gone; the time it took. Fails after `limitMs`. */
async function goneWithin(store: EtcdStore, key: string, limitMs: number): Promise<number> {
  const t0 = Date.now();
  while (await exists(store, key)) {
    assert.ok(Date.now() - t0 < limitMs, `${key} still exists after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - t0;
}

test("a leased key outlives its TTL while renewed, and revoke deletes it at once", async (t) => {
  if (missing !== undefined) return t.skip(missing);
  const [holder, watcher] = [await connect(), await connect()];
  const leased = await holder.setWithLease("alive/rank-0", "10.0.0.1:4000", 1);
  // Three TTLs: only renewals keep it.
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(await watcher.getString("alive/rank-0", 100), "10.0.0.1:4000");
  await leased.revoke();
  assert.equal(await exists(watcher, "alive/rank-0"), false, "the key outlived revoke");
  await assert.rejects(holder.setWithLease("alive/bad-ttl", "x", 0.5), RangeError);
});

test("a SIGKILLed holder's leased key vanishes once its TTL runs out", async (t) => {
  if (missing !== undefined) return t.skip(missing);
  const ttlSeconds = 2;
  const script = `
    const { EtcdStore } = await import(${JSON.stringify(storeModule)});
    const store = await EtcdStore.connect({ endpoints: ${JSON.stringify(cluster!.endpoints)}, prefix: ${JSON.stringify(prefix)}, timeoutMs: 5000 });
    await store.setWithLease("alive/child", String(process.pid), ${ttlSeconds});
    console.log("ready");
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const watcher = await connect();
    const [line] = (await Promise.race([
      once(child.stdout!, "data"),
      once(child, "exit").then(([code]) => Promise.reject(new Error(`the lease holder exited with ${code} before it was ready`))),
    ])) as [Buffer];
    assert.equal(line.toString().trim(), "ready");
    assert.equal(await watcher.getString("alive/child", 1000), String(child.pid));
    child.kill("SIGKILL");
    await once(child, "exit");
    // The lease was last renewed at most a third of the TTL before the kill; etcd expires it
    // within the TTL of that, checking about every half second. The margin is for a loaded machine.
    const took = await goneWithin(watcher, "alive/child", ttlSeconds * 1000 + 3000);
    t.diagnostic(`the key vanished ${took} ms after SIGKILL (TTL ${ttlSeconds} s)`);
  } finally {
    child.kill("SIGKILL");
  }
});

test("a lease is reported lost when etcd is unreachable past its TTL", async (t) => {
  if (missing !== undefined) return t.skip(missing);
  const holder = await connect();
  const leased = await holder.setWithLease("alive/lonely", "x", 1);
  await cluster!.kill(0);
  try {
    // etcd3 gives up renewing after two TTLs without an answer.
    const err = await Promise.race([leased.lost, new Promise((r) => setTimeout(r, 6000, "still held"))]);
    assert.ok(err instanceof StoreError, `lost did not settle: ${String(err)}`);
    assert.match(err.message, /the lease on alive\/lonely \(1 s\) was lost/);
  } finally {
    await cluster!.restart(0);
  }
  // A restarted etcd gives every lease a fresh TTL; with nobody renewing, this one then expires.
  await goneWithin(holder, "alive/lonely", 5000);
});
