// Authentication: both sides must prove the job secret; strangers are refused and logged, and a
// job under such attempts carries on.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { Handshake, AUTH_HELLO_BYTES } from "../../src/distributed/wire/auth.js";
import { FramedConnection } from "../../src/distributed/wire/connection.js";
import { AuthenticatedListener } from "../../src/distributed/wire/listener.js";
import { DEFAULT_FRAME_LIMITS } from "../../src/distributed/wire/frame.js";
import { AuthError } from "../../src/distributed/base/errors.js";
import { generateSecret, secretKey } from "../../src/distributed/wire/secret.js";
import { StoreClient } from "../../src/distributed/rendezvous/store-client.js";
import { spawnRanks } from "./helpers/spawn-ranks.js";

/** Wires a client and a server handshake back to back. */
function pair(clientSecret: Buffer, serverSecret: Buffer): { client?: AuthError | "ok"; server?: AuthError | "ok" } {
  const result: { client?: AuthError | "ok"; server?: AuthError | "ok" } = {};
  let server!: Handshake;
  let client!: Handshake;
  const deliver = (to: () => Handshake) => (bytes: Buffer) => {
    let off = 0;
    while (off < bytes.length) {
      const dst = to().nextBuffer();
      const n = Math.min(dst.length, bytes.length - off);
      assert.ok(n > 0, "handshake lent an empty buffer while bytes were pending");
      dst.set(bytes.subarray(off, off + n));
      off += n;
      to().advance(n);
    }
  };
  client = new Handshake("client", clientSecret, deliver(() => server), (err) => (result.client = err ?? "ok"));
  server = new Handshake("server", serverSecret, deliver(() => client), (err) => (result.server = err ?? "ok"));
  assert.equal(server.nextBuffer().length, AUTH_HELLO_BYTES, "the server lends only a fixed-size hello buffer");
  client.start();
  return result;
}

test("both sides holding the secret authenticate each other", () => {
  const key = secretKey(generateSecret());
  assert.deepEqual(pair(key, key), { client: "ok", server: "ok" });
});

test("a server without the secret is refused by the client, which never sends its proof", () => {
  const r = pair(secretKey(generateSecret()), secretKey(generateSecret()));
  assert.ok(r.client instanceof AuthError && /server could not prove/.test(r.client.message));
  assert.equal(r.server, undefined);
});

test("a secret shorter than 16 characters is refused", () => {
  assert.throws(() => secretKey("short"), /fewer than 16/);
});

test("strangers (garbage, wrong secret, silence) are refused and logged; a real client still gets in", async () => {
  const key = secretKey(generateSecret());
  const logs: string[] = [];
  const refusals = (): string[] => logs.filter((l) => /refused connection/.test(l));
  // Everything below waits for events (a close, a log line, an accepted connection), never for
  // a fixed time, so a loaded machine only makes it slower.
  let threeRefused!: () => void;
  const refusedThree = new Promise<void>((r) => (threeRefused = r));
  let accepted = 0;
  let firstAccepted!: () => void;
  const acceptedOne = new Promise<void>((r) => (firstAccepted = r));
  const sinkFor = () => ({ destinationFor: () => undefined, onFrame: () => {} });
  // The listener's handshake deadline is what refuses the silent client, so it is under test; it is
  // long enough (2 s) that the real client's handshake never reaches it on a loaded machine.
  const listener = await AuthenticatedListener.listen(
    {
      host: "127.0.0.1", port: 0, secret: key, limits: DEFAULT_FRAME_LIMITS, handshakeTimeoutMs: 2000, label: "test",
      // Every refusal on its own line, to check each one's reason (test/distributed/wire/ checks the rate limit).
      guard: { refusalLogIntervalMs: 0 },
      log: (m) => {
        logs.push(m);
        if (refusals().length >= 3) threeRefused();
      },
    },
    { sink: sinkFor, onAuthenticated: (c) => (accepted++, firstAccepted(), c.close()) },
  );
  const options = { limits: DEFAULT_FRAME_LIMITS, handshakeTimeoutMs: 60_000, sink: sinkFor, log: () => {} };
  try {
    // Garbage: 4 GiB worth of claimed length in what looks like a frame header.
    const garbage = net.connect(listener.port, "127.0.0.1", () => garbage.write(Buffer.alloc(64, 0xff)));
    garbage.on("error", () => {});
    // Wrong secret.
    await assert.rejects(FramedConnection.dial("127.0.0.1", listener.port, { ...options, secret: secretKey(generateSecret()) }), AuthError);
    // Silence.
    const silent = net.connect(listener.port, "127.0.0.1");
    silent.on("error", () => {});
    const silentClosed = new Promise((r) => silent.on("close", r));
    // The real one.
    const good = await FramedConnection.dial("127.0.0.1", listener.port, { ...options, secret: key });
    good.close();
    await Promise.all([silentClosed, refusedThree, acceptedOne]);
    assert.equal(accepted, 1);
    assert.equal(refusals().length, 3, logs.join("\n"));
    assert.ok(logs.some((l) => /did not announce itself|did not start with a Weft/.test(l)), logs.join("\n"));
    assert.ok(logs.some((l) => /did not finish within 2000 ms/.test(l)), logs.join("\n"));
    garbage.destroy();
  } finally {
    await listener.close();
  }
});

test("a stranger without the secret is refused while a collective between legit ranks completes", async () => {
  let attacking = true;
  const attacks: Promise<void>[] = [];
  const results = await spawnRanks({
    worldSize: 2,
    script: "stranger-worker.js",
    onStore: (port, secret) => {
      attacks.push(
        (async () => {
          const store = await StoreClient.connect({ host: "127.0.0.1", port, secret: secretKey(secret) });
          const [host, p] = (await store.getString("stranger-test/addr/0", 120_000)).split(":");
          const wrong = { secret: secretKey(generateSecret()), limits: DEFAULT_FRAME_LIMITS, handshakeTimeoutMs: 60_000, sink: () => ({ destinationFor: () => undefined, onFrame: () => {} }), log: () => {} };
          const attack = (): Promise<void> => FramedConnection.dial(host!, Number(p), wrong).then((c) => c.close(), () => {});
          // One refused attempt before the ranks start their all-reduces, so that rank 0's refusal
          // is logged however fast they finish; the rest hammer it while they run.
          await attack();
          await store.set("go", "1");
          store.close();
          let tries = 0;
          while (attacking && tries++ < 50) await attack();
        })(),
      );
    },
  });
  attacking = false;
  await Promise.all(attacks);
  for (const r of results) {
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json, [{ rank: r.rank, ok: true }]);
  }
  assert.match(results[0]!.stderr, /rank 0: refused connection from 127\.0\.0\.1:\d+: (client could not prove|connection with .* closed during authentication)/);
});
