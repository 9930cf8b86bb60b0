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

/** Waits, a turn of the event loop at a time, until `done()` holds; fails after a minute. */
async function eventually(done: () => boolean, why: () => string): Promise<void> {
  const t0 = Date.now();
  while (!done()) {
    assert.ok(Date.now() - t0 < 60_000, why());
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("get blocks until another client sets the key", async () => {
  await withStore(async (_s, connect) => {
    const [a, b] = [await connect(), await connect()];
    // The deadline is not under test: a minute, so only a get that never returns can reach it.
    let answered = false;
    const pending = a.getString("addr/1", 60_000).then((v) => ((answered = true), v));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(answered, false, "get answered before the key was set");
    await b.set("addr/1", "10.0.0.2:4000");
    assert.equal(await pending, "10.0.0.2:4000");
  });
});

test("get of a missing key fails with StoreTimeoutError naming it after the deadline", async () => {
  await withStore(async (_s, connect) => {
    const a = await connect();
    const t0 = Date.now();
    await assert.rejects(a.get("never/set", 150), (err: unknown) => err instanceof StoreTimeoutError && /never\/set/.test(err.message));
    const took = Date.now() - t0;
    // Never before the deadline; after it, only "it fired" (a loaded machine may be late to notice).
    assert.ok(took >= 140 && took < 30_000, `took ${took} ms`);
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
    const waiting = a.wait(["x", "y"], 60_000);
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
    // A long connect deadline: the refusal, not a slow machine, must be what ends the attempt.
    await assert.rejects(
      StoreClient.connect({ host: "127.0.0.1", port: server.port, secret: secretKey(generateSecret()), connectTimeoutMs: 60_000 }),
      (err: unknown) => err instanceof StoreError && /prove|closed/.test(err.message),
    );
    // The client may give up first (it cannot check the store's proof), so the store's log line can
    // come a little after: wait for it rather than for a fixed time.
    await eventually(() => logs.some((l) => /store: refused connection/.test(l)), () => `no refusal logged:\n${logs.join("\n")}`);
    const ok = await connect();
    await ok.set("still", "here");
    assert.equal(await ok.getString("still"), "here");
  });
});
