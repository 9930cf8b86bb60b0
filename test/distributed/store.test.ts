// The rendezvous store: blocking reads, counters, deadlines, and authentication.
import { test } from "node:test";
import assert from "node:assert/strict";
import { StoreServer } from "../../src/distributed/rendezvous/store-server.js";
import { StoreClient } from "../../src/distributed/rendezvous/store-client.js";
import { generateSecret, secretKey } from "../../src/distributed/wire/secret.js";
import { StoreError, StoreTimeoutError } from "../../src/distributed/base/errors.js";

async function withStore(fn: (server: StoreServer, connect: () => Promise<StoreClient>, logs: string[]) => Promise<void>): Promise<void> {
  const key = secretKey(generateSecret());
  const logs: string[] = [];
  const server = await StoreServer.listen({ secret: key, log: (m) => logs.push(m) });
  const clients: StoreClient[] = [];
  try {
    await fn(server, async () => {
      const c = await StoreClient.connect({ host: "127.0.0.1", port: server.port, secret: key });
      clients.push(c);
      return c;
    }, logs);
  } finally {
    for (const c of clients) c.close();
    await server.close();
  }
}

test("get blocks until another client sets the key", async () => {
  await withStore(async (_s, connect) => {
    const [a, b] = [await connect(), await connect()];
    const t0 = Date.now();
    const pending = a.getString("addr/1", 5000);
    await new Promise((r) => setTimeout(r, 100));
    await b.set("addr/1", "10.0.0.2:4000");
    assert.equal(await pending, "10.0.0.2:4000");
    assert.ok(Date.now() - t0 >= 90);
  });
});

test("get of a missing key fails with StoreTimeoutError naming it after the deadline", async () => {
  await withStore(async (_s, connect) => {
    const a = await connect();
    const t0 = Date.now();
    await assert.rejects(a.get("never/set", 150), (err: unknown) => err instanceof StoreTimeoutError && /never\/set/.test(err.message));
    const took = Date.now() - t0;
    assert.ok(took >= 140 && took < 1500, `took ${took} ms`);
  });
});

test("add is an atomic counter across clients, readable with get", async () => {
  await withStore(async (_s, connect) => {
    const clients = await Promise.all([connect(), connect(), connect()]);
    const results = await Promise.all(clients.flatMap((c) => [c.add("n"), c.add("n"), c.add("n", 10)]));
    assert.deepEqual([...results].sort((x, y) => x - y).at(-1), 36);
    assert.equal(new Set(results).size, results.length, "two adds saw the same value");
    assert.equal(await clients[0]!.getString("n"), "36");
  });
});

test("wait returns once every key exists; delete removes a key", async () => {
  await withStore(async (_s, connect) => {
    const a = await connect();
    const waiting = a.wait(["x", "y"], 5000);
    await a.set("x", "1");
    await a.set("y", new Uint8Array([1, 2, 3]));
    await waiting;
    assert.deepEqual([...(await a.get("y"))], [1, 2, 3]);
    assert.equal(await a.delete("x"), true);
    assert.equal(await a.delete("x"), false);
    await assert.rejects(a.wait(["x"], 50), StoreTimeoutError);
  });
});

test("a client with the wrong secret is refused and logged; the store keeps serving", async () => {
  await withStore(async (server, connect, logs) => {
    await assert.rejects(
      StoreClient.connect({ host: "127.0.0.1", port: server.port, secret: secretKey(generateSecret()), connectTimeoutMs: 1000 }),
      (err: unknown) => err instanceof StoreError && /prove|closed/.test(err.message),
    );
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(logs.some((l) => /store: refused connection/.test(l)), logs.join("\n"));
    const ok = await connect();
    await ok.set("still", "here");
    assert.equal(await ok.getString("still"), "here");
  });
});
