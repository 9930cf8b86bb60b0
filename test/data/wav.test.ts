// The 16-bit PCM WAV reader (src/data/wav.ts): hand-built files byte by byte, the streamed-size
// case, refusals, and a clip from espeak-ng and sox checked against sox's own raw decoding.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { encodeWav, readWav, WavFormatError } from "../../src/data/wav.js";

/** A RIFF file from chunks [id, body]. */
function riff(chunks: [string, Uint8Array][], riffSize?: number): Uint8Array {
  const parts: number[] = [..."RIFF"].map((c) => c.charCodeAt(0));
  const body: number[] = [..."WAVE"].map((c) => c.charCodeAt(0));
  for (const [id, data] of chunks) {
    body.push(...[...id].map((c) => c.charCodeAt(0)));
    const n = data.length;
    body.push(n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255, ...data);
    if (n & 1) body.push(0);
  }
  const size = riffSize ?? body.length;
  parts.push(size & 255, (size >> 8) & 255, (size >> 16) & 255, (size >>> 24) & 255, ...body);
  return Uint8Array.from(parts);
}

/** A fmt chunk body: format, channels, rate, bits. */
function fmt(format: number, channels: number, rate: number, bits: number): Uint8Array {
  const b = new DataView(new ArrayBuffer(16));
  b.setUint16(0, format, true);
  b.setUint16(2, channels, true);
  b.setUint32(4, rate, true);
  b.setUint32(8, (rate * channels * bits) / 8, true);
  b.setUint16(12, (channels * bits) / 8, true);
  b.setUint16(14, bits, true);
  return new Uint8Array(b.buffer);
}

/** Little-endian int16 bytes. */
const s16 = (...values: number[]): Uint8Array => new Uint8Array(Int16Array.from(values).buffer);

test("a mono file reads back as s16 / 32768", () => {
  const clip = readWav(riff([["fmt ", fmt(1, 1, 16000, 16)], ["data", s16(0, 16384, -16384, 32767, -32768)]]));
  assert.equal(clip.sampleRate, 16000);
  assert.equal(clip.channels, 1);
  assert.deepEqual([...clip.samples], [0, 0.5, -0.5, 32767 / 32768, -1]);
});

test("stereo is averaged to mono; odd-sized chunks before the data are skipped with their pad byte", () => {
  const list = Uint8Array.of(1, 2, 3); // an odd-sized LIST chunk: one pad byte follows it
  const clip = readWav(riff([["fmt ", fmt(1, 2, 8000, 16)], ["LIST", list], ["data", s16(16384, 0, -8192, -8192)]]));
  assert.equal(clip.channels, 2);
  assert.equal(clip.sampleRate, 8000);
  assert.deepEqual([...clip.samples], [0.25, -0.25]);
});

test("a streamed file's unknown sizes (0xFFFFFFFF) read to the end of the file, whole frames only", () => {
  const whole = riff([["fmt ", fmt(1, 1, 16000, 16)], ["data", Uint8Array.of(0, 64, 0, 192)]], 0xffffffff);
  // Half a frame trails the data, and the data chunk's size is 0xFFFFFFFF, as a pipe-writing encoder leaves it.
  const file = new Uint8Array(whole.length + 1);
  file.set(whole);
  file[whole.length] = 7;
  new DataView(file.buffer).setUint32(12 + 8 + 16 + 4, 0xffffffff, true);
  assert.deepEqual([...readWav(file).samples], [0.5, -0.5]);
});

test("WAVE_FORMAT_EXTENSIBLE with a PCM sub-format is read", () => {
  const ext = new Uint8Array(40);
  ext.set(fmt(0xfffe, 1, 16000, 16));
  new DataView(ext.buffer).setUint16(24, 1, true); // sub-format GUID starts with 1: PCM
  assert.deepEqual([...readWav(riff([["fmt ", ext], ["data", s16(8192)]])).samples], [0.25]);
});

test("what is not 16-bit PCM WAV is refused, naming the file and the fix", () => {
  assert.throws(() => readWav(new TextEncoder().encode("OggS not a wav file"), "a.ogg"), (e: Error) => e instanceof WavFormatError && /reading a\.ogg: not a RIFF\/WAVE file/.test(e.message));
  assert.throws(() => readWav(riff([["fmt ", fmt(3, 1, 16000, 32)], ["data", new Uint8Array(8)]])), /format 3, 32 bits, 1 channels; only 16-bit integer PCM is read: convert with `sox/);
  assert.throws(() => readWav(riff([["fmt ", fmt(1, 1, 16000, 8)], ["data", new Uint8Array(8)]])), /8 bits/);
  assert.throws(() => readWav(riff([["fmt ", fmt(1, 1, 16000, 16)]])), /no data chunk/);
  assert.throws(() => readWav(riff([["data", s16(1)], ["fmt ", fmt(1, 1, 16000, 16)]])), /before any fmt chunk/);
});

test("encodeWav rounds to the nearest 1/32768 and clips to [-1, 1]", () => {
  const bytes = encodeWav(Float32Array.of(0, 0.5, -0.5, 1, -1, 2, -3, 1 / 65536 + 1e-9), 22050);
  assert.equal(bytes.length, 44 + 16);
  const view = new DataView(bytes.buffer);
  assert.equal(view.getUint32(24, true), 22050);
  assert.deepEqual(Array.from({ length: 8 }, (_, i) => view.getInt16(44 + 2 * i, true)), [0, 16384, -16384, 32767, -32768, 32767, -32768, 1]);
  assert.throws(() => encodeWav(new Float32Array(1), 0), /sample rate 0 must be a positive integer/);
});

test("a clip from espeak-ng and sox reads as sox itself decodes it", () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-wav-"));
  try {
    const wav = join(dir, "seven.wav");
    const made = spawnSync("sh", ["-c", `espeak-ng -v en-us --stdout seven | sox -q -t wav - -r 16000 -b 16 -c 1 "${wav}"`], { encoding: "utf8" });
    assert.equal(made.status, 0, `espeak-ng | sox failed (install the Debian packages espeak-ng and sox): ${made.stderr}`);
    const clip = readWav(readFileSync(wav), wav);
    assert.equal(clip.sampleRate, 16000);
    // sox's raw signed 16-bit output is the independent decoding.
    const raw = spawnSync("sox", [wav, "-t", "raw", "-e", "signed-integer", "-b", "16", "-L", "-"]);
    assert.equal(raw.status, 0);
    const ints = new Int16Array(raw.stdout.buffer, raw.stdout.byteOffset, raw.stdout.length / 2);
    assert.equal(clip.samples.length, ints.length);
    assert.ok(clip.samples.length > 8000, `a spoken "seven" is over half a second, got ${clip.samples.length} samples`);
    for (let i = 0; i < ints.length; i++) if (clip.samples[i] !== ints[i]! / 32768) assert.fail(`sample ${i}: ${clip.samples[i]} vs ${ints[i]! / 32768}`);
    // And encodeWav writes the same samples back.
    assert.deepEqual(readWav(encodeWav(clip.samples, 16000)).samples, clip.samples);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
