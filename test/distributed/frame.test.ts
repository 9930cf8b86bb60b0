// Frames: headers round-trip; malformed and oversized headers are rejected before anything is
// allocated for their payload; payloads split across reads land whole, directly in lent memory.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeHeader, encodeHeader, DEFAULT_FRAME_LIMITS, FRAME_HEADER_BYTES, FrameType, type FrameHeader } from "../../src/distributed/wire/frame.js";
import { FrameReader, HOLD_FRAME } from "../../src/distributed/wire/frame-reader.js";
import { ByteStream } from "../../src/distributed/wire/byte-consumer.js";
import { FrameError } from "../../src/distributed/base/errors.js";

const LIMITS = { ...DEFAULT_FRAME_LIMITS, maxDataBytes: 1 << 20 };

function frame(h: Partial<FrameHeader> & { type: FrameHeader["type"] }, payload = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  encodeHeader({ ...h, payloadBytes: payload.length }, out);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/** A reader whose sink and allocator record every call. */
function recordingReader(lend?: (h: FrameHeader) => Uint8Array | undefined) {
  const calls = { destinationFor: 0, allocations: [] as number[], frames: [] as { h: FrameHeader; payload: Uint8Array }[] };
  const reader = new FrameReader({
    limits: LIMITS,
    sink: {
      destinationFor: (h) => {
        calls.destinationFor++;
        return lend?.(h);
      },
      onFrame: (h, payload) => calls.frames.push({ h, payload: payload.slice() }),
    },
    allocate: (n) => {
      calls.allocations.push(n);
      return new Uint8Array(n);
    },
  });
  return { reader, stream: new ByteStream(reader), calls };
}

test("a header round-trips every field", () => {
  const buf = new Uint8Array(FRAME_HEADER_BYTES);
  const h = { type: FrameType.P2P, flags: 1, seq: 0xfffffffe, tag: 7, payloadBytes: 123, aux0: 1, aux1: 2, aux2: 0xffffffff } as const;
  encodeHeader(h, buf);
  assert.deepEqual(decodeHeader(buf, 0, LIMITS), h);
});

test("oversized, bad-magic, bad-version, unknown-type and unknown-flag headers are rejected before any allocation", () => {
  const cases: [string, (b: DataView) => void, RegExp][] = [
    ["oversized data payload", (v) => v.setUint32(16, (1 << 20) + 1, true), /above the limit of 1048576/],
    ["4 GiB payload", (v) => v.setUint32(16, 0xffffffff, true), /above the limit/],
    ["oversized control frame", (v) => (v.setUint8(5, FrameType.Hello), v.setUint32(16, 1 << 20, true)), /above the limit of 16384/],
    ["bad magic", (v) => v.setUint32(0, 0x12345678, true), /bad frame magic/],
    ["other version", (v) => v.setUint8(4, 9), /frame version 9/],
    ["unknown type", (v) => v.setUint8(5, 200), /unknown frame type 200/],
    ["unknown flags", (v) => v.setUint16(6, 0x8000, true), /unknown flags/],
  ];
  for (const [name, corrupt, message] of cases) {
    const bytes = frame({ type: FrameType.Data });
    corrupt(new DataView(bytes.buffer));
    const { stream, calls } = recordingReader();
    assert.throws(() => stream.feedChunk(bytes), (err: unknown) => err instanceof FrameError && message.test(err.message), name);
    assert.equal(calls.destinationFor, 0, `${name}: sink consulted`);
    assert.deepEqual(calls.allocations, [], `${name}: allocated`);
    assert.equal(calls.frames.length, 0);
    // The reader stays failed: nothing more is parsed from this connection.
    assert.throws(() => stream.feedChunk(frame({ type: FrameType.Data })), FrameError);
  }
});

test("frames split at every byte boundary arrive whole and in order", () => {
  const payload = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);
  const bytes = new Uint8Array([...frame({ type: FrameType.Data, seq: 1, tag: 2 }, payload), ...frame({ type: FrameType.Arrive, seq: 3 }), ...frame({ type: FrameType.Data, seq: 4 }, payload.subarray(0, 5))]);
  for (const step of [1, 7, 31, 32, 33, 500, bytes.length]) {
    const { stream, calls } = recordingReader();
    for (let off = 0; off < bytes.length; off += step) stream.feedChunk(bytes.subarray(off, off + step));
    assert.deepEqual(calls.frames.map((f) => [f.h.type, f.h.seq, f.payload.length]), [[FrameType.Data, 1, 1000], [FrameType.Arrive, 3, 0], [FrameType.Data, 4, 5]], `step ${step}`);
    assert.deepEqual(calls.frames[0]!.payload, payload);
  }
});

test("a large payload is read straight into the destination the sink lends", () => {
  const payload = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 7) & 0xff);
  const dest = new Uint8Array(new SharedArrayBuffer(payload.length));
  const { reader, calls } = recordingReader(() => dest);
  const bytes = frame({ type: FrameType.Data }, payload);
  // Drive it like a socket with `onread`: write into whatever nextBuffer() lends, 10 KiB at most per read.
  let off = 0;
  let direct = 0;
  while (off < bytes.length) {
    const into = reader.nextBuffer();
    const n = Math.min(into.length, bytes.length - off, 10_240);
    into.set(bytes.subarray(off, off + n));
    if (into.buffer === dest.buffer) direct += n;
    off += n;
    reader.advance(n);
  }
  assert.deepEqual(calls.allocations, []);
  assert.deepEqual(dest, payload);
  assert.equal(calls.frames.length, 1);
  assert.ok(direct > payload.length * 0.5, `only ${direct} bytes read directly`);
});

test("a frame with no place yet is held: reading stops, nothing is allocated, resume() delivers it", () => {
  const payload = Uint8Array.from({ length: 100 }, (_, i) => i);
  let place: Uint8Array | undefined;
  const { reader, calls } = recordingReader(() => place ?? (HOLD_FRAME as unknown as undefined));
  const bytes = new Uint8Array([...frame({ type: FrameType.Data, seq: 1 }, payload), ...frame({ type: FrameType.Data, seq: 2 }, payload)]);
  const into = reader.nextBuffer();
  into.set(bytes.subarray(0, Math.min(into.length, bytes.length)));
  assert.equal(reader.advance(Math.min(into.length, bytes.length)), false, "reading should stop");
  assert.ok(reader.holding);
  assert.equal(calls.frames.length, 0);
  assert.equal(reader.resume(), false, "still no place");
  place = new Uint8Array(100);
  assert.equal(reader.resume(), true);
  assert.deepEqual(calls.frames.map((f) => f.h.seq), [1, 2]);
  assert.deepEqual(calls.allocations, []);
  assert.deepEqual(place, payload);
});

test("an authenticated peer that sends an oversized header is disconnected and logged", async () => {
  const { AuthenticatedListener } = await import("../../src/distributed/wire/listener.js");
  const { FramedConnection } = await import("../../src/distributed/wire/connection.js");
  const { generateSecret, secretKey } = await import("../../src/distributed/wire/secret.js");
  const key = secretKey(generateSecret());
  const logs: string[] = [];
  let allocated = 0;
  const sink = () => ({ destinationFor: () => undefined, onFrame: () => void allocated++ });
  const listener = await AuthenticatedListener.listen(
    { host: "127.0.0.1", port: 0, secret: key, limits: LIMITS, handshakeTimeoutMs: 60_000, log: (m) => logs.push(m), label: "test" },
    { sink, onAuthenticated: () => {} },
  );
  try {
    const conn = await FramedConnection.dial("127.0.0.1", listener.port, { secret: key, limits: LIMITS, handshakeTimeoutMs: 60_000, sink, log: () => {} });
    const closed = new Promise((r) => conn.socket.once("close", r));
    const bad = frame({ type: FrameType.Data });
    new DataView(bad.buffer).setUint32(16, 0xfffffff0, true);
    conn.socket.write(bad);
    await closed;
    assert.equal(allocated, 0);
    assert.ok(logs.some((l) => /closed the connection with 127\.0\.0\.1:\d+: Data frame announces 4294967280 payload bytes, above the limit/.test(l)), logs.join("\n"));
  } finally {
    await listener.close();
  }
});
