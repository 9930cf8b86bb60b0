// The TensorBoard writer against readers that share nothing with it: the CRC-32C against published
// check values, and whole event files against Google's protobuf runtime in Python, which parses
// each record with message classes built from TensorFlow's field numbers and checks both
// checksums of every record with its own CRC (./tensorboard-decode.py).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { crc32c } from "../../src/report/crc32c.js";
import { encodeEventFile, type ScalarEvent } from "../../src/report/tensorboard-events.js";
import { decodeEventFiles, decoderVerdict } from "./metrics-export-check.js";

test("crc32c gives the CRC catalogue's check value and RFC 3720's test vectors", () => {
  assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
  // RFC 3720 (iSCSI), appendix B.4: 32 bytes of zeros, of ones, ascending, descending.
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
});

const EVENTS: ScalarEvent[] = [
  { step: 1, wallTime: 1796276111.076, values: [{ tag: "loss", value: 2.3026390075683594 }, { tag: "wait_for/1", value: 0 }] },
  { step: 2, wallTime: 1796276111.1385, values: [{ tag: "loss", value: -0.1 }, { tag: "mem_rss", value: 210944001 }, { tag: "eval/précision", value: 1e-40 }] },
  // Past 2^32 (a five-byte varint), and a negative step (ten bytes, as protobuf writes int64 -1).
  { step: 2 ** 40 + 3, wallTime: 1796276112, values: [{ tag: "x", value: 3.5 }] },
  { step: -1, wallTime: 0.5, values: [{ tag: "x", value: 1 }] },
];

function withFile<T>(bytes: Uint8Array, name: string, use: (path: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "weft-tb-"));
  try {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return use(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("an event file reads back through protobuf's Python runtime: the version record, then each step's wall time, step and float32 values, every record canonical", () => {
  const file = encodeEventFile(EVENTS, 1796276111.076);
  assert.equal(file.name, "events.out.tfevents.1796276111.weft");
  const decoded = withFile(file.bytes, file.name, (path) => decodeEventFiles([path])[path]!);
  assert.deepEqual(decoded[0], { wall_time: 1796276111.076, step: 0, canonical: true, file_version: "brain.Event:2" });
  assert.deepEqual(
    decoded.slice(1),
    EVENTS.map((e) => ({ wall_time: e.wallTime, step: e.step, canonical: true, values: Object.fromEntries(e.values.map((v) => [v.tag, Math.fround(v.value)])) })),
  );
});

test("the decoder's own CRC catches a flipped bit in a record's length or in its data", () => {
  const file = encodeEventFile(EVENTS.slice(0, 1), 1);
  const firstRecordLength = 16 + Number(new DataView(file.bytes.buffer).getBigUint64(0, true));
  for (const [offset, message] of [[firstRecordLength + 1, /length CRC mismatch/], [firstRecordLength + 20, /data CRC mismatch/]] as const) {
    const bad = Uint8Array.from(file.bytes);
    bad[offset]! ^= 0x04;
    const verdict = withFile(bad, file.name, decoderVerdict);
    assert.equal(verdict.status, 1, `byte ${offset} flipped: ${verdict.stderr}`);
    assert.match(verdict.stderr, message);
  }
});
