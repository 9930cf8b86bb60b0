// F16 / BF16 conversions against hand-computed bit patterns (IEEE 754 binary16, and bfloat16 =
// the top half of binary32), including rounding ties, overflow, subnormals and NaN.

import assert from "node:assert/strict";
import { test } from "node:test";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, toFloat32 } from "../../src/checkpoint/half-float.js";

const hex = (bits: Uint16Array): string[] => [...bits].map((b) => b.toString(16).padStart(4, "0"));

test("float32 -> F16 rounds to nearest even, overflows to infinity and keeps subnormals", () => {
  const cases: [number, string][] = [
    [1, "3c00"],
    [-2, "c000"],
    [65504, "7bff"], // largest half
    [65519, "7bff"], // below the halfway point to 65536: rounds down
    [65520, "7c00"], // halfway: ties to even, which is infinity
    [2049, "6800"], // halfway between 2048 and 2050: ties to even (2048)
    [2051, "6802"], // halfway between 2050 and 2052: ties to even (2052)
    [2 ** -14, "0400"], // smallest normal
    [2 ** -24, "0001"], // smallest subnormal
    [2 ** -25, "0000"], // half of it: ties to even, zero
    [1.5 * 2 ** -25, "0001"], // above half: rounds up to the smallest subnormal
    [-0, "8000"],
    [Infinity, "7c00"],
    [1e10, "7c00"],
    [1 / 3, "3555"],
  ];
  assert.deepEqual(hex(f32ToF16(new Float32Array(cases.map(([v]) => v)))), cases.map(([, h]) => h));
  const nan = f32ToF16(new Float32Array([NaN]))[0];
  assert.equal(nan & 0x7c00, 0x7c00);
  assert.notEqual(nan & 0x3ff, 0);
});

test("F16 -> float32 is exact and inverts float32 -> F16 on every half value", () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const floats = f16ToF32(all);
  assert.equal(floats[0x3c00], 1);
  assert.equal(floats[0x0001], 2 ** -24);
  assert.equal(floats[0x03ff], 1023 * 2 ** -24); // largest subnormal
  assert.equal(floats[0xfbff], -65504);
  const back = f32ToF16(floats);
  for (let i = 0; i < 65536; i++) {
    if (Number.isNaN(floats[i])) continue; // NaN payloads are not preserved, only NaN-ness
    assert.equal(back[i], i, `half 0x${i.toString(16)}`);
  }
});

test("float32 -> BF16 rounds to nearest even and keeps NaN a NaN", () => {
  const f = new Float32Array(5);
  const u = new Uint32Array(f.buffer);
  u[0] = 0x3f808000; // exactly halfway between 0x3f80 and 0x3f81: ties to even (0x3f80)
  u[1] = 0x3f818000; // halfway between 0x3f81 and 0x3f82: ties to even (0x3f82)
  u[2] = 0x3f808001; // just above halfway: up
  u[3] = 0x7f800001; // a NaN whose payload is only in the dropped bits
  u[4] = 0x7f7fffff; // largest float rounds up to infinity
  assert.deepEqual(hex(f32ToBf16(f)), ["3f80", "3f82", "3f81", "7fc0", "7f80"]);
  assert.deepEqual([...bf16ToF32(new Uint16Array([0x3f80, 0xc049]))], [1, -3.140625]);
});

test("toFloat32 converts float dtypes and refuses integer ones", () => {
  const f32 = new Float32Array([1, 2]);
  assert.equal(toFloat32({ dtype: "F32", shape: [2], data: f32 }), f32);
  assert.deepEqual(toFloat32({ dtype: "BF16", shape: [1], data: new Uint16Array([0x4000]) }), new Float32Array([2]));
  assert.deepEqual(toFloat32({ dtype: "F16", shape: [1], data: new Uint16Array([0x4000]) }), new Float32Array([2]));
  assert.throws(() => toFloat32({ dtype: "I32", shape: [1], data: new Int32Array(1) }), /not I32: read its \.data directly/);
});
