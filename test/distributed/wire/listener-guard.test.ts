// A listener bounds what strangers can cost before they authenticate (Note [pending connections]
// in src/distributed/wire/listener.ts): at most maxPending at once, the oldest silent one evicted
// for a newcomer; a deadline for the handshake; garbage closed at once; no frame buffers before
// authentication; refusals logged at most once per interval; and a real client gets in while
// strangers hold every slot. Everything waits for events (closes, log lines), never for a fixed
// time, and stays small (tens of sockets) so CI's open-file limit is no concern.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { FramedConnection } from "../../../src/distributed/wire/connection.js";
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

/** Dials as a real client, sends one frame and waits for the listener to receive it. */
async function realClientWorks(s: Setup, seq: number): Promise<void> {
  const conn = await FramedConnection.dial("127.0.0.1", s.listener.port, dialOptions);
  conn.send({ type: FrameType.StoreRequest, flags: 0, seq, tag: 0, aux0: 0, aux1: 0, aux2: 0 }, Buffer.from("hi"));
  while (!s.frames.includes(seq)) await new Promise((r) => setImmediate(r));
  conn.close();
}

test("at most maxPending connections authenticate at once: each newcomer beyond evicts the oldest silent one", async () => {
  const s = await listen({ maxPending: 8, handshakeDeadlineMs: 60_000, refusalLogIntervalMs: 60_000 });
  try {
    const strangers = [];
    // One at a time, so the listener accepts them in this order.
    for (let i = 0; i < 20; i++) {
      strangers.push(await stranger(s.listener.port));
      await pendingReaches(s.listener, Math.min(i + 1, 8));
    }
    await Promise.all(strangers.slice(0, 12).map((x) => x.closed));
    assert.equal(s.listener.pendingCount, 8);
    assert.ok(strangers.slice(12).every((x) => !x.socket.destroyed && x.socket.readyState === "open"), "the 8 newest are still open");
    // Twelve refusals within the interval: the first written at once, the rest held for one summary.
    assert.equal(s.logs.length, 1, s.logs.join("\n"));
    assert.match(s.logs[0]!, /^test: refused connection from 127\.0\.0\.1:\d+: closed after \d+ ms unauthenticated to make room: 8 connections were authenticating$/);
    for (const x of strangers) x.socket.destroy();
  } finally {
    await s.listener.close();
  }
  assert.equal(s.logs.length, 2, s.logs.join("\n"));
  assert.match(s.logs[1]!, /^test: refused 11 unauthenticated connections in the last \d+\.\d s \(11 evicted at the cap of 8 authenticating\)/);
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

test("real clients get in while another process floods the listener with connections it holds open", async () => {
  const s = await listen({ maxPending: 8, handshakeDeadlineMs: 60_000, refusalLogIntervalMs: 60_000 });
  // 300 connections as fast as the other process can open them, each held until it exits.
  const flood = `const net = require("node:net"); let open = 0;
    for (let i = 0; i < 300; i++) { const s = net.connect(${s.listener.port}, "127.0.0.1"); s.on("error", () => {}); s.on("connect", () => { if (++open === 1) console.log("started"); }); }
    setTimeout(() => process.exit(0), 30000);`;
  const child = spawn(process.execPath, ["-e", flood], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    await new Promise<void>((r) => child.stdout.once("data", () => r()));
    for (let i = 0; i < 5; i++) await realClientWorks(s, 10 + i);
    assert.ok(s.listener.pendingCount <= 8);
  } finally {
    child.kill();
    await s.listener.close();
  }
  assert.ok(s.logs.length <= 2, s.logs.join("\n"));
});
