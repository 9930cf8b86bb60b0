// The RendezvousStore contract as one set of assertions, run against every implementation (the
// embedded StoreClient and EtcdStore), so "they behave the same" is checked rather than hoped.
// `open` makes a backend once for the whole suite; each test takes fresh clients from it and uses
// its own keys, so tests do not see each other's state.
import { after, before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import type { RendezvousStore } from "../../../src/distributed/rendezvous/rendezvous-store.js";
import { StoreError, StoreTimeoutError } from "../../../src/distributed/base/errors.js";

export interface StoreBackend {
  /** A new client of the backend's one store. */
  connect(): Promise<RendezvousStore>;
  close(): Promise<void>;
}

/** Registers the contract's tests under `name`; `skip` (a reason) skips each of them, for a backend this machine cannot run. */
export function rendezvousStoreContract(name: string, open: () => Promise<StoreBackend>, skip?: string): void {
  describe(`${name} keeps the RendezvousStore contract`, () => {
    let backend: StoreBackend | undefined;
    const clients: RendezvousStore[] = [];
    before(async () => {
      if (skip === undefined) backend = await open();
    });
    after(async () => {
      for (const c of clients) c.close();
      await backend?.close();
    });

    /** Runs `body` with `n` fresh clients, or skips with the reason. */
    const withClients = async (t: TestContext, n: number, body: (...c: RendezvousStore[]) => Promise<void>): Promise<void> => {
      if (skip !== undefined) return t.skip(skip);
      const cs = await Promise.all(Array.from({ length: n }, () => backend!.connect()));
      clients.push(...cs);
      await body(...cs);
    };

    test("set then get returns the value, as bytes and as text", (t) =>
      withClients(t, 2, async (a, b) => {
        await a.set("c1/text", "10.0.0.2:4000");
        assert.equal(await b.getString("c1/text"), "10.0.0.2:4000");
        const bytes = Uint8Array.of(0, 255, 1, 254);
        await a.set("c1/bytes", bytes);
        assert.deepEqual([...(await b.get("c1/bytes"))], [...bytes]);
        await a.set("c1/text", "overwritten");
        assert.equal(await b.getString("c1/text"), "overwritten");
      }));

    test("get waits for a set that comes later", (t) =>
      withClients(t, 2, async (a, b) => {
        // The deadline is not under test: a minute, so only a get that never returns can reach it.
        let answered = false;
        const pending = a.getString("c2/later", 60_000).then((v) => ((answered = true), v));
        await new Promise((r) => setTimeout(r, 200));
        assert.equal(answered, false, "get answered before the key was set");
        await b.set("c2/later", "here");
        assert.equal(await pending, "here");
      }));

    test("get of a missing key fails with StoreTimeoutError naming it, after its deadline", (t) =>
      withClients(t, 1, async (a) => {
        const t0 = Date.now();
        await assert.rejects(a.get("c3/never", 300), (err: unknown) => err instanceof StoreTimeoutError && /c3\/never/.test(err.message));
        const took = Date.now() - t0;
        // Never before the deadline; after it, only "it fired" (a loaded machine may be late).
        assert.ok(took >= 290 && took < 10_000, `took ${took} ms`);
      }));

    test("get with a 1 ms deadline still answers whether the key exists now", (t) =>
      withClients(t, 1, async (a) => {
        await a.set("c3/present", "yes");
        assert.equal(await a.getString("c3/present", 1), "yes");
        await assert.rejects(a.get("c3/absent", 1), StoreTimeoutError);
        await assert.rejects(a.wait(["c3/present", "c3/absent"], 1), StoreTimeoutError);
      }));

    test("add is atomic: 20 concurrent adds from 2 clients sum exactly", (t) =>
      withClients(t, 2, async (a, b) => {
        // Ten adds of 1 from a and ten of 2 from b, all in flight at once: every add must see a
        // different total, and the last must be the exact sum.
        const results = await Promise.all([
          ...Array.from({ length: 10 }, () => a.add("c4/count", 1)),
          ...Array.from({ length: 10 }, () => b.add("c4/count", 2)),
        ]);
        assert.equal(new Set(results).size, 20, `two adds saw the same total: ${results.join(", ")}`);
        assert.equal(Math.max(...results), 30);
        assert.equal(await a.add("c4/count", 0), 30);
        assert.equal(await b.getString("c4/count"), "30");
        assert.equal(await a.add("c4/fresh"), 1, "a missing counter starts at 0");
      }));

    test("wait returns once every key exists and names the missing ones on timeout", (t) =>
      withClients(t, 2, async (a, b) => {
        let done = false;
        const pending = a.wait(["c5/x", "c5/y", "c5/z"], 60_000).then(() => (done = true));
        await b.set("c5/x", "1");
        await b.set("c5/y", "1");
        await new Promise((r) => setTimeout(r, 200));
        assert.equal(done, false, "wait returned with c5/z missing");
        await b.set("c5/z", "1");
        await pending;
        await assert.rejects(
          a.wait(["c5/x", "c5/p", "c5/q"], 300),
          (err: unknown) => err instanceof StoreTimeoutError && /still missing \[c5\/p, c5\/q\]/.test(err.message),
        );
      }));

    test("delete removes a key and says whether it existed", (t) =>
      withClients(t, 2, async (a, b) => {
        await a.set("c6/gone", "soon");
        assert.equal(await b.delete("c6/gone"), true);
        assert.equal(await b.delete("c6/gone"), false);
        await assert.rejects(a.get("c6/gone", 200), StoreTimeoutError);
      }));

    test("close ends a pending get with a StoreError at once", (t) =>
      withClients(t, 1, async (a) => {
        const t0 = Date.now();
        const pending = a.get("c7/never", 60_000);
        await new Promise((r) => setTimeout(r, 100));
        a.close();
        await assert.rejects(pending, StoreError);
        assert.ok(Date.now() - t0 < 10_000, "the get outlived close by more than 10 s");
      }));

    test("localAddress is an address of this host and endpoint names the store", (t) =>
      withClients(t, 1, async (a) => {
        // Every backend in these tests listens on loopback, so that is the route to it.
        assert.equal(a.localAddress, "127.0.0.1");
        assert.match(a.endpoint, /127\.0\.0\.1:\d+/);
      }));
  });
}
