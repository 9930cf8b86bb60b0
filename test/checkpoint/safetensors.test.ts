// Format conformance: Weft's encoder and decoder against each other and against the independent
// implementation in ./independent-safetensors.ts.

import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeSafetensors } from "../../src/checkpoint/safetensors-decode.js";
import { encodeSafetensors } from "../../src/checkpoint/safetensors-encode.js";
import type { NamedArray } from "../../src/checkpoint/named-array.js";
import { bf16ToF32, f16ToF32 } from "../../src/checkpoint/half-float.js";
import { independentRead, independentWrite } from "./independent-safetensors.js";

/** Tensors of every dtype, with awkward values: NaN, -0, infinities, subnormals, extremes. */
function sampleTensors(): Record<string, NamedArray> {
  return {
    "embed.weight": {
      dtype: "F32",
      shape: [2, 3],
      data: new Float32Array([1.5, -0, NaN, Infinity, -3.4028234663852886e38, 1e-45]),
    },
    "tokens": { dtype: "I32", shape: [4], data: new Int32Array([0, -1, 2147483647, -2147483648]) },
    // 0x3f80 = 1, 0xc000 = -2, 0x0001 = smallest subnormal, 0x7f80 = +inf
    "half.bf16": { dtype: "BF16", shape: [2, 2], data: new Uint16Array([0x3f80, 0xc000, 0x0001, 0x7f80]) },
    // 0x3c00 = 1, 0x7bff = 65504, 0x0001 = 2^-24, 0xfc00 = -inf, 0x3555 ~ 1/3
    "half.f16": { dtype: "F16", shape: [5], data: new Uint16Array([0x3c00, 0x7bff, 0x0001, 0xfc00, 0x3555]) },
    "optim.embed.weight.step": { dtype: "I64", shape: [], data: new BigInt64Array([9007199254740993n]) },
    "empty": { dtype: "F32", shape: [0, 7], data: new Float32Array(0) },
  };
}

function bytesOf(array: NamedArray["data"]): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

test("F32, F16, BF16, I32 and I64 tensors round-trip bit for bit, with their metadata", () => {
  const tensors = sampleTensors();
  const file = encodeSafetensors(tensors, { "weft.step": "100", "weft.config": JSON.stringify({ lr: 0.1 }) });
  const decoded = decodeSafetensors(file, "roundtrip.safetensors");
  assert.deepEqual(Object.keys(decoded.tensors).sort(), Object.keys(tensors).sort());
  for (const [name, original] of Object.entries(tensors)) {
    const back = decoded.tensors[name];
    assert.equal(back.dtype, original.dtype, name);
    assert.deepEqual(back.shape, original.shape, name);
    assert.equal(back.data.constructor, original.data.constructor, name);
    assert.deepEqual(bytesOf(back.data), bytesOf(original.data), name);
  }
  assert.equal(decoded.metadata["weft.step"], "100");
  assert.deepEqual(JSON.parse(decoded.metadata["weft.config"]), { lr: 0.1 });
  assert.equal(decoded.metadata["weft.format_version"], "1");
  assert.match(decoded.metadata["weft.sha256"], /^[0-9a-f]{64}$/);
  assert.match(decoded.metadata["weft.header_sha256"], /^[0-9a-f]{64}$/);
  assert.equal(decoded.source, "roundtrip.safetensors");
});

test("an independent reader written from the format description reads identical values from a Weft file", () => {
  const tensors = sampleTensors();
  const theirs = independentRead(encodeSafetensors(tensors, { note: "hello" }));
  assert.equal(theirs.metadata.note, "hello");
  assert.deepEqual(Object.keys(theirs.tensors).sort(), Object.keys(tensors).sort());
  const expectedValues: Record<string, unknown[]> = {
    "embed.weight": [...(tensors["embed.weight"].data as Float32Array)],
    "tokens": [...(tensors.tokens.data as Int32Array)],
    "half.bf16": [...bf16ToF32(tensors["half.bf16"].data as Uint16Array)],
    "half.f16": [...f16ToF32(tensors["half.f16"].data as Uint16Array)],
    "optim.embed.weight.step": [9007199254740993n],
    "empty": [],
  };
  for (const [name, values] of Object.entries(expectedValues)) {
    assert.equal(theirs.tensors[name].dtype, tensors[name].dtype, name);
    assert.deepEqual(theirs.tensors[name].shape, tensors[name].shape, name);
    // Object.is semantics: NaN equals NaN, -0 differs from +0.
    assert.deepEqual(theirs.tensors[name].values, values, name);
  }
  // Spot values decoded by hand from the bit patterns above, so the half-float helpers are not
  // the only judge of themselves.
  assert.deepEqual(theirs.tensors["half.bf16"].values, [1, -2, 9.183549615799121e-41, Infinity]);
  assert.deepEqual(theirs.tensors["half.f16"].values.slice(0, 4), [1, 65504, 2 ** -24, -Infinity]);
});

test("a file from an independent writer (unpadded, header out of data order, no Weft digests) loads", () => {
  const file = independentWrite(
    [
      { name: "a", tensor: { dtype: "BF16", shape: [3], values: [1, -0.5, 256] } },
      { name: "b", tensor: { dtype: "F32", shape: [2, 2], values: [0.1, 0.2, -7, 1e30] } },
      { name: "c", tensor: { dtype: "I64", shape: [2], values: [-1n, 1n << 40n] } },
      { name: "d", tensor: { dtype: "I32", shape: [1, 1, 1], values: [-123456] } },
    ],
    { format: "pt" },
  );
  const { tensors, metadata } = decodeSafetensors(file, "foreign.safetensors");
  assert.deepEqual(metadata, { format: "pt" });
  assert.deepEqual([...bf16ToF32(tensors.a.data as Uint16Array)], [1, -0.5, 256]);
  assert.deepEqual(tensors.b.data, new Float32Array([0.1, 0.2, -7, 1e30]));
  assert.deepEqual(tensors.b.shape, [2, 2]);
  assert.deepEqual(tensors.c.data, new BigInt64Array([-1n, 1n << 40n]));
  assert.deepEqual(tensors.d.data, new Int32Array([-123456]));
  assert.deepEqual(tensors.d.shape, [1, 1, 1]);
});

test("Weft pads the header with spaces to a multiple of 8 and aligns every tensor to its element size", () => {
  const file = encodeSafetensors(sampleTensors());
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  assert.equal(headerLength % 8, 0);
  const headerText = file.subarray(8, 8 + headerLength).toString("utf8");
  assert.equal(headerText, headerText.trimEnd() + " ".repeat(headerText.length - headerText.trimEnd().length));
  const header = JSON.parse(headerText) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const sizes: Record<string, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8 };
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    assert.equal(entry.data_offsets[0] % sizes[entry.dtype], 0, `${name} is not aligned`);
  }
});

test("header order is data order, even for names JavaScript objects would reorder", () => {
  const tensors: Record<string, NamedArray> = {};
  for (const name of ["b", "10", "a", "2"]) tensors[name] = { dtype: "F32", shape: [1], data: new Float32Array([Number(name) || 0]) };
  const file = encodeSafetensors(tensors);
  const headerLength = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const headerText = file.subarray(8, 8 + headerLength).toString("utf8");
  const header = JSON.parse(headerText) as Record<string, { data_offsets: [number, number] }>;
  const textOrder = ["b", "10", "a", "2"].sort((x, y) => headerText.indexOf(`"${x}":`) - headerText.indexOf(`"${y}":`));
  const dataOrder = ["b", "10", "a", "2"].sort((x, y) => header[x].data_offsets[0] - header[y].data_offsets[0]);
  assert.deepEqual(textOrder, dataOrder);
  // Equal element sizes keep the record's own key order (which JavaScript sets: "2", "10", "b", "a").
  assert.deepEqual(textOrder, Object.keys(tensors));
});

test("encoding refuses a tensor whose data does not match its shape or dtype, and reserved names", () => {
  assert.throws(
    () => encodeSafetensors({ w: { dtype: "F32", shape: [2, 3], data: new Float32Array(5) } }),
    /tensor "w": shape \[2, 3\] has 6 elements but its data holds 5/,
  );
  assert.throws(
    () => encodeSafetensors({ w: { dtype: "BF16", shape: [2], data: new Float32Array(2) } }),
    /tensor "w": dtype BF16 needs its data in a Uint16Array, got a Float32Array; convert it first/,
  );
  assert.throws(
    () => encodeSafetensors({ w: { dtype: "F32", shape: [-1], data: new Float32Array(1) } }),
    /shape \[-1\] is not a list of non-negative integers/,
  );
  assert.throws(
    () => encodeSafetensors({ __metadata__: { dtype: "F32", shape: [], data: new Float32Array(1) } }),
    /the format reserves that key/,
  );
  assert.throws(
    () => encodeSafetensors({}, { "weft.step": 3 as unknown as string }),
    /metadata "weft.step": the format only stores strings, got number/,
  );
});

test("an empty checkpoint (metadata only) round-trips", () => {
  const decoded = decodeSafetensors(encodeSafetensors({}, { only: "metadata" }));
  assert.deepEqual(decoded.tensors, {});
  assert.equal(decoded.metadata.only, "metadata");
});
