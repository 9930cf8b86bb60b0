// A listener bounds what strangers can cost before they authenticate (Note [pending connections]
// in src/distributed/wire/listener.ts): at most maxPending at once, authenticated ones not
// counted; past it newcomers closed on arrival, before a socket object exists, all but one in
// five, which evicts the oldest silent one; a deadline for the handshake; garbage closed at once; no frame buffers before
// authentication; refusals logged at most once per interval; and a real client, dialing again
// when it is closed on arrival, gets in while strangers hold every slot. Everything waits for
// events (closes, counts, log lines), never for a fixed time, and bounds are counted in
// connections, not measured in time or bytes of RSS; it stays small (hundreds of sockets at
// most) so CI's open-file limit is no concern.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { FramedConnection } from "../../../src/distributed/wire/connection.js";
import { ClosedDuringHandshakeError, retryWhileRefused } from "../../../src/distributed/base/retry.js";
import { AuthenticatedListener, type AcceptGuard } from "../../../src/distributed/wire/listener.js";
import { DEFAULT_FRAME_LIMITS, FrameType } from "../../../src/distributed/wire/frame.js";
import { generateSecret, secretKey } from "../../../src/distributed/wire/secret.js";

const key = secretKey(generateSecret());

interface Setup {
  listener: AuthenticatedListener;
  logs: string[];
  /** Resolves once a log line matches. */
  logged(re: RegExp): Promise<void>;
  /** Frames received by authenticated connections. */
  frames: number[];
}

async function listen(guard: Partial<AcceptGuard>): Promise<Setup> {
  const logs: string[] = [];
  const watchers: { re: RegExp; done: () => void }[] = [];
  const frames: number[] = [];
  const listener = await AuthenticatedListener.listen(
    {
      host: "127.0.0.1", port: 0, secret: key, limits: DEFAULT_FRAME_LIMITS, handshakeTimeoutMs: 60_000, label: "test", guard,
      log: (m) => {
        logs.push(m);
        for (const w of watchers) if (w.re.test(m)) w.done();
      },
    },
    { sink: () => ({ destinationFor: () => undefined, onFrame: (h) => frames.push(h.seq) }), onAuthenticated: () => {} },
  );
  const logged = (re: RegExp): Promise<void> =>
    logs.some((l) => re.test(l)) ? Promise.resolve() : new Promise((done) => watchers.push({ re, done }));
  return { listener, logs, logged, frames };
}

/** Opens a raw socket and resolves once connected; `closed` resolves when the other side closes it. */
function stranger(port: number, send?: Buffer): Promise<{ socket: net.Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const closed = new Promise<void>((r) => socket.once("close", () => r()));
    socket.on("error", () => {});
    // Read (and drop) what the listener answers, so that its FIN is seen.
    socket.resume();
    socket.once("connect", () => {
      if (send) socket.write(send);
      resolve({ socket, closed });
    });
    socket.once("error", reject);
  });
}

/** Waits until the listener has accepted and counted `n` pending connections. */
async function pendingReaches(listener: AuthenticatedListener, n: number): Promise<void> {
  while (listener.pendingCount < n) await new Promise((r) => setImmediate(r));
}

/** Waits until the listener has decided on `n` newcomers in all (taken in, or closed on arrival). */
async function arrivalsReach(listener: AuthenticatedListener, n: number): Promise<void> {
  for (;;) {
    const c = listener.acceptCounts;
    if (c.admitted + c.closedOnArrival >= n) return;
    await new Promise((r) => setImmediate(r));
  }
}

/** A well-formed client hello ("WFTA", version 1, role client, a nonce): what any stranger can send. */
function validHello(): Buffer {
  const b = Buffer.alloc(40);
  b.writeUInt32LE(0x41544657, 0);
  b.writeUInt16LE(1, 4);
  b.writeUInt16LE(1, 6);
  randomBytes(32).copy(b, 8);
  return b;
}

const dialOptions = { secret: key, limits: DEFAULT_FRAME_LIMITS, handshakeTimeoutMs: 60_000, sink: () => ({ destinationFor: () => undefined, onFrame: () => {} }), log: () => {} };

/** Dials as a real client (retrying as peers and the store's clients do), sends one frame and waits for the listener to receive it. */
async function realClientWorks(s: Setup, seq: number): Promise<void> {
  const conn = await retryWhileRefused("the test listener", Date.now() + 30_000, () => FramedConnection.dial("127.0.0.1", s.listener.port, dialOptions));
  conn.send({ type: FrameType.StoreRequest, flags: 0, seq, tag: 0, aux0: 0, aux1: 0, aux2: 0 }, Buffer.from("hi"));
  while (!s.frames.includes(seq)) await new Promise((r) => setImmediate(r));
  conn.close();
}

test("past maxPending, newcomers are closed on arrival, and one in five is let in and evicts the oldest silent one", async () => {
  const s = await listen({ maxPending: 8, handshakeDeadlineMs: 60_000, refusalLogIntervalMs: 60_000 });
  try {
    const strangers: { socket: net.Socket; closed: Promise<void> }[] = [];
    // One at a time, so the listener decides on them in this order.
    for (let i = 0; i < 28; i++) {
      strangers.push(await stranger(s.listener.port));
      await arrivalsReach(s.listener, i + 1);
      await pendingReaches(s.listener, Math.min(i + 1, 8));
    }
    // Of the 20 past the cap, the 5th, 10th, 15th and 20th were let in; each evicted the oldest.
    const letIn = new Set([12, 17, 22, 27]);
    const closed = [0, 1, 2, 3, ...Array.from({ length: 20 }, (_, k) => 8 + k).filter((i) => !letIn.has(i))];
    await Promise.all(closed.map((i) => strangers[i]!.closed));
    assert.deepEqual(s.listener.acceptCounts, { admitted: 12, closedOnArrival: 16, evicted: 4, authenticated: 0 });
    assert.equal(s.listener.pendingCount, 8);
    const open = strangers.flatMap((x, i) => (!x.socket.destroyed && x.socket.readyState === "open" ? [i] : []));
    assert.deepEqual(open, [4, 5, 6, 7, 12, 17, 22, 27]);
    // Twenty refusals within the interval: the first written at once, the rest held for one summary.
    assert.equal(s.logs.length, 1, s.logs.join("\n"));
    assert.match(s.logs[0]!, /^test: refused connection from 127\.0\.0\.1:\d+: closed on arrival: 8 connections were authenticating$/);
    for (const x of strangers) x.socket.destroy();
  } finally {
    await s.listener.close();
  }
  assert.equal(s.logs.length, 2, s.logs.join("\n"));
  assert.match(s.logs[1]!, /^test: refused 19 unauthenticated connections in the last \d+\.\d s \(15 closed on arrival while 8 were authenticating, 4 evicted at the cap of 8 authenticating\)/);
});

test("a dial closed on arrival fails with ClosedDuringHandshakeError; retryWhileRefused dials again until it gets in", async () => {
  const s = await listen({ maxPending: 1, handshakeDeadlineMs: 60_000, refusalLogIntervalMs: 60_000 });
  const holder = await stranger(s.listener.port);
  try {
    await pendingReaches(s.listener, 1);
    // The first newcomer past the cap is closed on arrival (only the fourth closed earns a place).
    await assert.rejects(FramedConnection.dial("127.0.0.1", s.listener.port, dialOptions), (err: Error) => {
      assert.ok(err instanceof ClosedDuringHandshakeError, `${err.name}: ${err.message}`);
      assert.match(err.message, /closed during authentication/);
      return true;
    });
    await realClientWorks(s, 1);
    await holder.closed;
    const c = s.listener.acceptCounts;
    assert.ok(c.closedOnArrival >= 4, `closed on arrival ${c.closedOnArrival}`);
    assert.equal(c.evicted, 1);
  } finally {
    holder.socket.destroy();
    await s.listener.close();
  }
});

test("authenticated connections do not count against the cap: ten held open, none closed on arrival", async () => {
  const s = await listen({ maxPending: 2, handshakeDeadlineMs: 60_000, refusalLogIntervalMs: 60_000 });
  const held: FramedConnection[] = [];
  try {
    // One at a time, on its first attempt each: Node's own count holds the ten, the limit makes room.
    for (let i = 0; i < 10; i++) held.push(await FramedConnection.dial("127.0.0.1", s.listener.port, dialOptions));
    while (s.listener.acceptCounts.authenticated < 10) await new Promise((r) => setImmediate(r));
    assert.equal(s.listener.acceptCounts.closedOnArrival, 0);
    for (const c of held) c.close();
    while (s.listener.acceptCounts.authenticated > 0) await new Promise((r) => setImmediate(r));
  } finally {
    for (const c of held) c.close();
    await s.listener.close();
  }
});

test("a dial with the wrong secret is not dialed again: it fails at once, on the client's own check of the server's proof", async () => {
  const s = await listen({});
  try {
    let attempts = 0;
    await assert.rejects(
      retryWhileRefused("the test listener", Date.now() + 30_000, () => {
        attempts++;
        return FramedConnection.dial("127.0.0.1", s.listener.port, { ...dialOptions, secret: secretKey(generateSecret()) });
      }),
      /could not connect to the test listener: .*server could not prove it holds the job secret/,
    );
    assert.equal(attempts, 1);
  } finally {
    await s.listener.close();
  }
});

test("a dial to a port nobody listens on is retried until the deadline, then fails naming the refusal", async () => {
  const s = await listen({});
  const port = s.listener.port;
  await s.listener.close();
  let attempts = 0;
  await assert.rejects(
    retryWhileRefused("nobody", Date.now() + 100, () => {
      attempts++;
      return FramedConnection.dial("127.0.0.1", port, dialOptions);
    }),
    /^Error: could not connect to nobody: .*ECONNREFUSED/,
  );
  assert.ok(attempts >= 2, `${attempts} attempts`);
});

test("a stranger that sends nothing is closed at the handshake deadline", async () => {
  const s = await listen({ handshakeDeadlineMs: 200 });
  try {
    const x = await stranger(s.listener.port);
    await x.closed;
    await s.logged(/did not finish within 200 ms/);
    assert.equal(s.listener.pendingCount, 0);
  } finally {
    await s.listener.close();
  }
});

test("a stranger that sends garbage, or a hello and then a wrong proof, is closed at once", async () => {
  const s = await listen({ handshakeDeadlineMs: 60_000, refusalLogIntervalMs: 0 });
  try {
    // 64 KiB of 0xff: read only as far as the 40-byte hello it must start with.
    const garbage = await stranger(s.listener.port, Buffer.alloc(64 << 10, 0xff));
    await garbage.closed;
    await s.logged(/did not start with a Weft authentication hello/);
    const wrongProof = await stranger(s.listener.port, Buffer.concat([validHello(), Buffer.alloc(32)]));
    await wrongProof.closed;
    await s.logged(/client could not prove it holds the job secret/);
    assert.equal(s.listener.pendingCount, 0);
  } finally {
    await s.listener.close();
  }
});

test("strangers waiting to authenticate hold no frame buffers (a few hundred bytes each, not 64 KiB)", async () => {
  const s = await listen({ maxPending: 1000, handshakeDeadlineMs: 60_000 });
  const strangers = [];
  try {
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 200; i++) strangers.push(await stranger(s.listener.port, validHello()));
    await pendingReaches(s.listener, 200);
    // Each has had its hello read and answered, so each is past the point where the 64 KiB reader
    // used to exist (200 x 64 KiB = 12.5 MiB).
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.ok(grown < 2 << 20, `200 pending connections grew array buffers by ${(grown / 2 ** 20).toFixed(1)} MiB`);
  } finally {
    for (const x of strangers) x.socket.destroy();
    await s.listener.close();
  }
});

test("refusals are logged at most once per interval, however many strangers fail", async () => {
  const s = await listen({ handshakeDeadlineMs: 60_000, refusalLogIntervalMs: 60_000 });
  try {
    await Promise.all(Array.from({ length: 50 }, async () => (await stranger(s.listener.port, Buffer.alloc(40, 0xee))).closed));
    await s.logged(/refused connection/);
    assert.equal(s.logs.length, 1, s.logs.join("\n"));
  } finally {
    await s.listener.close();
  }
  // close() writes what was held: the other 49 in one line.
  assert.equal(s.logs.length, 2, s.logs.join("\n"));
  assert.match(s.logs[1]!, /^test: refused 49 unauthenticated connections in the last \d+\.\d s \(49 failed the handshake\); the latest from 127\.0\.0\.1:\d+: peer did not start/);
});

test("a real client authenticates and sends frames while strangers hold every slot, silent or mid-handshake", async () => {
  const s = await listen({ maxPending: 4, handshakeDeadlineMs: 60_000, refusalLogIntervalMs: 60_000 });
  const strangers = [];
  try {
    for (let i = 0; i < 4; i++) strangers.push(await stranger(s.listener.port));
    await pendingReaches(s.listener, 4);
    await realClientWorks(s, 1);
    // Now strangers that sent a well-formed hello and wait, like a real client, for nothing.
    for (let i = 0; i < 4; i++) strangers.push(await stranger(s.listener.port, validHello()));
    await pendingReaches(s.listener, 4);
    await realClientWorks(s, 2);
    assert.ok(s.listener.pendingCount <= 4);
  } finally {
    for (const x of strangers) x.socket.destroy();
    await s.listener.close();
  }
});

test("a real client gets in while a stranger holds every slot and reopens each connection the listener closes", async () => {
  const s = await listen({ maxPending: 8, handshakeDeadlineMs: 60_000, refusalLogIntervalMs: 60_000 });
  // Keeps 8 connections open, opening another the moment one is closed: refusing every newcomer
  // at the cap would keep a real client out for as long as this runs.
  const holder = `const net = require("node:net"); let open = 0;
    const one = () => { const s = net.connect(${s.listener.port}, "127.0.0.1"); s.on("error", () => {}); s.resume();
      s.on("connect", () => { if (++open === 8) console.log("full"); }); s.on("close", one); };
    for (let i = 0; i < 8; i++) one();
    setTimeout(() => process.exit(0), 30000);`;
  const child = spawn(process.execPath, ["-e", holder], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    await new Promise<void>((r) => child.stdout.once("data", () => r()));
    for (let i = 0; i < 3; i++) {
      // Every slot the stranger's again (it reopened what the last client's entry evicted), so the
      // only way in is a place earned by newcomers closed on arrival, evicting one of its own.
      await pendingReaches(s.listener, 8);
      const evicted = s.listener.acceptCounts.evicted;
      await realClientWorks(s, 20 + i);
      assert.ok(s.listener.acceptCounts.evicted > evicted, `client ${i} got in without evicting anyone`);
    }
    assert.ok(s.listener.pendingCount <= 8);
  } finally {
    child.kill();
    await s.listener.close();
  }
});

test("real clients get in while another process floods the listener, and four in five of the flood never become a socket", async () => {
  const s = await listen({ maxPending: 8, handshakeDeadlineMs: 60_000, refusalLogIntervalMs: 60_000 });
  // 300 connections as fast as the other process can open them, each held until it exits.
  const flood = `const net = require("node:net"); let open = 0;
    for (let i = 0; i < 300; i++) { const s = net.connect(${s.listener.port}, "127.0.0.1"); s.on("error", () => {}); s.on("connect", () => { if (++open === 300) console.log("all connected"); }); }
    setTimeout(() => process.exit(0), 30000);`;
  const child = spawn(process.execPath, ["-e", flood], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    await new Promise<void>((r) => child.stdout.once("data", () => r()));
    await arrivalsReach(s.listener, 300);
    for (let i = 0; i < 5; i++) await realClientWorks(s, 10 + i);
    assert.ok(s.listener.pendingCount <= 8);
    const c = s.listener.acceptCounts;
    // Each newcomer let in past the cap was earned by four closed on arrival; what is taken into
    // JavaScript is the cap, those let in, and a slot for each of the five that authenticated.
    assert.ok(c.closedOnArrival >= 4 * c.evicted, `${c.closedOnArrival} closed on arrival, ${c.evicted} evicted`);
    assert.ok(c.admitted <= 8 + c.evicted + 5, `${c.admitted} admitted, ${c.evicted} evicted`);
    assert.ok(c.closedOnArrival >= 200, `${c.closedOnArrival} of 300 closed on arrival`);
  } finally {
    child.kill();
    await s.listener.close();
  }
  assert.ok(s.logs.length <= 2, s.logs.join("\n"));
});
