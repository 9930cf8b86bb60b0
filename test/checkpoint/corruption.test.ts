// Damaged and malformed files are refused with a message that names the file, the tensor when
// there is one, expected versus found, and what to do.

import assert from "node:assert/strict";
import { test } from "node:test";
import { CheckpointError } from "../../src/checkpoint/checkpoint-error.js";
import { decodeSafetensors } from "../../src/checkpoint/safetensors-decode.js";
import { encodeSafetensors } from "../../src/checkpoint/safetensors-encode.js";
import type { NamedArray } from "../../src/checkpoint/named-array.js";
import { independentWrite } from "./independent-safetensors.js";

const SOURCE = "run/step-42.safetensors";

function weftFile(): Buffer {
  const tensors: Record<string, NamedArray> = {
    "fc1.weight": { dtype: "F32", shape: [4, 8], data: Float32Array.from({ length: 32 }, (_, i) => i / 7) },
    "fc1.bias": { dtype: "F32", shape: [4], data: new Float32Array([0.5, -0.5, 1, -1]) },
    "optim.fc1.bias.exp_avg": { dtype: "BF16", shape: [4], data: new Uint16Array([0x3f80, 0, 0xbf80, 0x4000]) },
  };
  return encodeSafetensors(tensors, { "weft.step": "42", "weft.config": '{"hidden":4}' });
}

function headerLengthOf(file: Uint8Array): number {
  return Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
}

/** Asserts a CheckpointError naming the file, matching every pattern. */
function assertRefused(file: Uint8Array, ...patterns: RegExp[]): CheckpointError {
  let caught: unknown;
  try {
    decodeSafetensors(file, SOURCE);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof CheckpointError, `expected a CheckpointError, got ${String(caught)}`);
  assert.equal(caught.source, SOURCE);
  assert.match(caught.message, /^cannot load checkpoint run\/step-42\.safetensors: /);
  for (const pattern of patterns) assert.match(caught.message, pattern);
  return caught;
}

test("a truncated file is refused with the data size the header promised and the size found", () => {
  const file = weftFile();
  const cut = file.subarray(0, file.length - 50);
  const dataHave = cut.length - 8 - headerLengthOf(file);
  const error = assertRefused(
    cut,
    new RegExp(`the file is truncated: the header says ${dataHave + 50} bytes of data \\(tensor "[^"]+" ends there\\), the file has ${dataHave}`),
    /re-save it or restore an earlier checkpoint/,
  );
  assert.notEqual(error.tensor, undefined);
});

test("a file cut inside its header or its length field is refused as truncated", () => {
  const file = weftFile();
  assertRefused(file.subarray(0, 100), /the file is truncated: its header length field says \d+ bytes of header, but only 92 bytes follow it/);
  assertRefused(file.subarray(0, 5), /the file is 5 bytes, too short to hold the 8-byte header length/);
});

test("a header length larger than the file is refused", () => {
  const file = Buffer.from(weftFile());
  file.writeBigUInt64LE(BigInt(file.length), 0);
  assertRefused(file, new RegExp(`header length field says ${file.length} bytes of header, but only ${file.length - 8} bytes follow`));
});

test("a flipped bit in the tensor data fails the data checksum", () => {
  const file = Buffer.from(weftFile());
  file[file.length - 20] ^= 0x04;
  assertRefused(
    file,
    /data checksum mismatch: weft\.sha256 is [0-9a-f]{64}, the \d+ bytes of tensor data hash to [0-9a-f]{64}/,
    /corrupted after the file was written.*restore an earlier checkpoint/,
  );
});

test("a flipped bit in a tensor name fails the header checksum; one that breaks the JSON is refused as JSON", () => {
  const file = Buffer.from(weftFile());
  const headerText = file.subarray(8, 8 + headerLengthOf(file)).toString("latin1");
  const renamed = Buffer.from(file);
  renamed[8 + headerText.indexOf('"fc1.bias"') + 1] ^= 0x01; // "fc1.bias" -> "gc1.bias"
  assertRefused(renamed, /header checksum mismatch: weft\.header_sha256 is [0-9a-f]{64}/, /tensor names, dtypes, shapes, offsets or metadata changed/);

  const broken = Buffer.from(file);
  broken[8 + headerText.indexOf('":{"dtype"')] ^= 0x01; // the closing quote of a name becomes '#'
  assertRefused(broken, /the \d+-byte header is not valid UTF-8 JSON/, /damaged or not a safetensors file/);
});

test("a changed metadata value (the step) fails the header checksum", () => {
  const file = Buffer.from(weftFile());
  const at = file.indexOf('"weft.step":"42"') + '"weft.step":"'.length;
  file[at] = "7".charCodeAt(0);
  assertRefused(file, /header checksum mismatch/);
});

test("every single-bit flip anywhere in a Weft file is refused", () => {
  const original = encodeSafetensors(
    { w: { dtype: "F32", shape: [3], data: new Float32Array([1, 2, 3]) }, i: { dtype: "I32", shape: [1], data: new Int32Array([5]) } },
    { "weft.step": "1" },
  );
  let flips = 0;
  for (let byte = 0; byte < original.length; byte++) {
    for (let bit = 0; bit < 8; bit++) {
      const damaged = Buffer.from(original);
      damaged[byte] ^= 1 << bit;
      assert.throws(() => decodeSafetensors(damaged, SOURCE), CheckpointError, `flip of bit ${bit} in byte ${byte} was accepted`);
      flips++;
    }
  }
  assert.equal(flips, original.length * 8);
});

test("overlapping tensors are refused naming both", () => {
  const file = independentWrite([
    { name: "a", tensor: { dtype: "F32", shape: [4], values: [1, 2, 3, 4] }, offsets: [0, 16] },
    { name: "b", tensor: { dtype: "F32", shape: [4], values: [5, 6, 7, 8] }, offsets: [8, 24] },
  ]);
  const error = assertRefused(file, /tensor "b" \(bytes \[8, 24\)\) overlaps tensor "a" \(bytes \[0, 16\)\)/, /the header is damaged/);
  assert.equal(error.tensor, "b");
});

test("a gap between tensors and bytes after the last tensor are refused", () => {
  const gap = independentWrite([
    { name: "a", tensor: { dtype: "F32", shape: [1], values: [1] }, offsets: [0, 4] },
    { name: "b", tensor: { dtype: "F32", shape: [1], values: [2] }, offsets: [8, 12] },
  ]);
  assertRefused(gap, /tensor "b" starts at byte 8 of the data section, expected 4 \(the format packs tensors without gaps\)/);
  const trailing = independentWrite([{ name: "a", tensor: { dtype: "F32", shape: [1], values: [1] } }], undefined, 10);
  assertRefused(trailing, /the data section has 10 bytes but the header describes 4: 6 bytes belong to no tensor/);
});

test("offsets that disagree with shape x dtype size are refused", () => {
  const file = independentWrite([{ name: "w", tensor: { dtype: "F32", shape: [2, 3], values: [1, 2, 3, 4, 5] }, offsets: [0, 20] }]);
  assertRefused(file, /tensor "w": shape \[2, 3\] of F32 needs 24 bytes, but data_offsets \[0, 20\] span 20/);
});

test("unknown dtypes, malformed entries and non-string metadata are refused", () => {
  const f64 = independentWrite([{ name: "x", tensor: { dtype: "F64", shape: [1], values: [1] }, offsets: [0, 8] }]);
  assertRefused(f64, /tensor "x": dtype "F64" is not one Weft reads \(F32, F16, BF16, I32, I64\)/, /tensor\.float\(\)/);

  const header = (json: string): Uint8Array => {
    const text = new TextEncoder().encode(json);
    const file = new Uint8Array(8 + text.length);
    new DataView(file.buffer).setBigUint64(0, BigInt(text.length), true);
    file.set(text, 8);
    return file;
  };
  assertRefused(header("[1,2]"), /the header is an array, expected a JSON object of tensor entries/);
  assertRefused(header('{"x":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}'), /tensor "x": shape \[1\.5\] is not a list/);
  assertRefused(header('{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}'), /data_offsets \[4,0\] is not \[begin, end\]/);
  assertRefused(header('{"__metadata__":{"step":3}}'), /metadata entry "step" is a number, expected a string/);
});

test("a file from a newer Weft format version is refused with the fix", () => {
  const file = independentWrite([], { "weft.format_version": "2" });
  assertRefused(file, /format version "2"; this Weft reads version 1: upgrade Weft/);
});

test("a file that lost one of Weft's digest keys is refused rather than loaded unchecked", () => {
  const file = Buffer.from(weftFile());
  const at = file.indexOf('"weft.header_sha256"') + 1;
  file[at] = "v".charCodeAt(0); // "weft.header_sha256" -> "veft.header_sha256"
  assertRefused(file, /its metadata has weft\.format_version, weft\.sha256 but not weft\.header_sha256; Weft writes all of them/);
});
