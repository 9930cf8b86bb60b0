// parseRendezvousUrl: which store a --rdzv value names, and one-line errors for the rest.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connectRendezvousStore, parseRendezvousUrl } from "../../../src/distributed/rendezvous/connect-store.js";
import { StoreServer } from "../../../src/distributed/rendezvous/store-server.js";
import { StoreClient } from "../../../src/distributed/rendezvous/store-client.js";
import { generateSecret, secretKey } from "../../../src/distributed/wire/secret.js";

test("HOST:PORT and tcp://HOST:PORT name the embedded store", () => {
  assert.deepEqual(parseRendezvousUrl("10.0.0.1:29500"), { kind: "store", host: "10.0.0.1", port: 29500 });
  assert.deepEqual(parseRendezvousUrl("tcp://node0.cluster:29500"), { kind: "store", host: "node0.cluster", port: 29500 });
  assert.deepEqual(parseRendezvousUrl("[fe80::1]:29500"), { kind: "store", host: "fe80::1", port: 29500 });
  assert.deepEqual(parseRendezvousUrl("TCP://127.0.0.1:1"), { kind: "store", host: "127.0.0.1", port: 1 });
  // Port 0: node 0 picks a free one (the launcher's single-machine default).
  assert.deepEqual(parseRendezvousUrl("127.0.0.1:0"), { kind: "store", host: "127.0.0.1", port: 0 });
});

test("etcd://HOST:PORT[,HOST:PORT...] names an etcd cluster, endpoints in order", () => {
  assert.deepEqual(parseRendezvousUrl("etcd://10.0.0.1:2379"), { kind: "etcd", endpoints: ["10.0.0.1:2379"] });
  assert.deepEqual(parseRendezvousUrl("etcd://10.0.0.1:2379,10.0.0.2:2379, [::1]:2379"), {
    kind: "etcd",
    endpoints: ["10.0.0.1:2379", "10.0.0.2:2379", "[::1]:2379"],
  });
});

test("malformed values fail in one line that names the value and the forms", () => {
  const cases: [string, RegExp][] = [
    ["etcd://", /^--rdzv etcd:\/\/\.\.\. needs HOST:PORT endpoints separated by commas, got "etcd:\/\/"$/],
    ["etcd://10.0.0.1", /needs HOST:PORT endpoints separated by commas, got "etcd:\/\/10.0.0.1" \(not HOST:PORT: "10.0.0.1"\)/],
    ["etcd://a:2379,,b:2379", /not HOST:PORT: ""/],
    ["etcd://a:2379;b:2379", /not HOST:PORT: "a:2379;b:2379"/],
    ["etcd://a:0", /not HOST:PORT: "a:0"/],
    ["etcd://a:70000", /not HOST:PORT: "a:70000"/],
    ["http://10.0.0.1:2379", /does not know the scheme "http:\/\/".*use HOST:PORT, tcp:\/\/HOST:PORT or etcd:\/\/HOST:PORT\[,HOST:PORT\.\.\.\]/],
    ["10.0.0.1", /--rdzv must be HOST:PORT, tcp:\/\/HOST:PORT or etcd:\/\/.* got "10.0.0.1"/],
    ["10.0.0.1:65536", /ports up to 65535, got "10.0.0.1:65536"/],
    ["::1:29500", /got "::1:29500"/],
    ["", /got ""/],
  ];
  for (const [url, pattern] of cases) {
    assert.throws(() => parseRendezvousUrl(url), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.match(err.message, pattern, `for ${JSON.stringify(url)}`);
      assert.ok(!err.message.includes("\n"), `for ${JSON.stringify(url)}: ${err.message}`);
      return true;
    });
  }
});

test("connectRendezvousStore dials the embedded store for HOST:PORT and checks what etcd needs", async () => {
  const secret = secretKey(generateSecret());
  const server = await StoreServer.listen({ secret, log: () => undefined });
  try {
    const store = await connectRendezvousStore(`tcp://127.0.0.1:${server.port}`, { secret });
    try {
      assert.ok(store instanceof StoreClient);
      await store.set("k", "v");
      assert.equal(await store.getString("k"), "v");
    } finally {
      store.close();
    }
  } finally {
    await server.close();
  }
  await assert.rejects(connectRendezvousStore("127.0.0.1:0", { secret }), /has port 0, which only node 0 can serve on/);
  await assert.rejects(connectRendezvousStore("etcd://127.0.0.1:2379", { secret }), /needs a job id .* got none/);
  await assert.rejects(connectRendezvousStore("etcd://127.0.0.1:2379", { secret, jobId: "a/b" }), /needs a job id .* got "a\/b"/);
});
