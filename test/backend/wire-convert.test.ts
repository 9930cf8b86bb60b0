// The float32 <-> bf16/f16 conversions of compressed all-reduce (Note [wire rounding] in
// native/kernels/wire-convert/wire-convert.h): the JavaScript loops against rounding written from
// the formats' definitions, known bit patterns, and every native ISA variant against the
// JavaScript bits (ranks built differently must agree bit for bit).
import { test } from "node:test";
import assert from "node:assert/strict";
import { packJs, unpackAddJs, unpackJs } from "../../src/distributed/compression/convert-js.js";
import { wireAddon } from "../../src/distributed/compression/convert.js";
import { wireCode, type PackedWireDtype } from "../../src/distributed/compression/wire-dtype.js";
import { roundToWire } from "../distributed/helpers/wire-rounding.js";
import { nativeAddon } from "../../src/backend/native/index.js";
import { forEachIsa } from "./native-variants.js";
import { f32ToBf16, f32ToF16 } from "../../src/checkpoint/half-float.js";

const KINDS: PackedWireDtype[] = ["bf16", "f16"];

const fromBits = (bits: number[]): Float32Array => new Float32Array(Uint32Array.from(bits).buffer);
const bitsOf = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);
const hex = (x: number): string => `0x${x.toString(16)}`;

/**
 * Every float32 exponent and high mantissa bit pattern (all 2^16 upper halves) with the low halves
 * where rounding changes: bf16 rounds at bit 15 (0x8000 is a tie), f16 normals at bit 12 (0x1000
 * is a tie; 0x3000 a tie with an odd last kept bit), f16 subnormals in the upper half.
 */
function interestingFloats(): Float32Array {
  const lows = [0x0000, 0x0001, 0x0fff, 0x1000, 0x1001, 0x2000, 0x3000, 0x7fff, 0x8000, 0x8001, 0xefff, 0xf000, 0xffff];
  const bits = new Uint32Array(65536 * lows.length);
  let k = 0;
  for (let hi = 0; hi < 65536; hi++) for (const lo of lows) bits[k++] = ((hi << 16) | lo) >>> 0;
  return new Float32Array(bits.buffer);
}

function randomFloats(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const bits = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    bits[i] = s;
  }
  return new Float32Array(bits.buffer);
}

test("JavaScript packing rounds like the formats' definitions (nearest even, overflow to Inf, subnormals kept, NaN kept)", () => {
  const xs = interestingFloats();
  for (const kind of KINDS) {
    const packed = new Uint16Array(xs.length);
    packJs(kind, xs, packed, xs.length);
    const back = new Float32Array(xs.length);
    unpackJs(kind, packed, back, xs.length);
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i]!;
      const want = Math.fround(roundToWire(x, kind));
      const got = back[i]!;
      if (Number.isNaN(x)) {
        assert.ok(Number.isNaN(got), `${kind}: NaN ${hex(bitsOf(xs)[i]!)} packed to ${hex(packed[i]!)}, not a NaN`);
      } else if (!Object.is(got, want)) {
        assert.fail(`${kind}: ${x} (${hex(bitsOf(xs)[i]!)}) rounds to ${got}, the definition says ${want}`);
      }
    }
  }
});

test("JavaScript packing agrees with the checkpoint converters on every number (they differ only in f16 NaN payloads)", () => {
  const xs = interestingFloats().filter((x) => !Number.isNaN(x));
  for (const [kind, convert] of [["bf16", f32ToBf16], ["f16", f32ToF16]] as const) {
    const packed = new Uint16Array(xs.length);
    packJs(kind, xs, packed, xs.length);
    const other = convert(xs);
    for (let i = 0; i < xs.length; i++) {
      if (packed[i] !== other[i]) assert.fail(`${kind} of ${hex(bitsOf(xs)[i]!)}: ${hex(packed[i]!)} here, ${hex(other[i]!)} in checkpoints`);
    }
  }
});

test("known bit patterns", () => {
  const cases: [PackedWireDtype, number, number][] = [
    ["bf16", 0x3f800000, 0x3f80], // 1
    ["bf16", 0x3f808000, 0x3f80], // 1 + 2^-8: a tie, to even (down)
    ["bf16", 0x3f818000, 0x3f82], // a tie with an odd last bit: up
    ["bf16", 0x3f808001, 0x3f81], // just above the tie
    ["bf16", 0x7f7fffff, 0x7f80], // the largest float rounds to Inf
    ["bf16", 0x7f800001, 0x7fc0], // a NaN with only low payload bits stays a NaN (quiet)
    ["bf16", 0xff800000, 0xff80], // -Inf
    ["bf16", 0x00000001, 0x0000], // the smallest subnormal rounds to 0
    ["bf16", 0x00018000, 0x0002], // a subnormal tie, up to even
    ["bf16", 0x80000000, 0x8000], // -0
    ["f16", 0x3f800000, 0x3c00], // 1
    ["f16", 0x477fe000, 0x7bff], // 65504, the largest finite
    ["f16", 0x477fefff, 0x7bff], // just below 65520
    ["f16", 0x477ff000, 0x7c00], // 65520: a tie, to even = Inf
    ["f16", 0x49742400, 0x7c00], // 1e6
    ["f16", 0xff800000, 0xfc00], // -Inf
    ["f16", 0x33800000, 0x0001], // 2^-24, the smallest subnormal
    ["f16", 0x33000000, 0x0000], // 2^-25: a tie, to even = 0
    ["f16", 0x33000001, 0x0001], // just above 2^-25
    ["f16", 0x33c00000, 0x0002], // 1.5·2^-24: a tie, to even = 2
    ["f16", 0x34200000, 0x0002], // 2.5·2^-24: a tie, to even = 2
    ["f16", 0x34400000, 0x0003], // 3·2^-24, exact
    ["f16", 0x387fc000, 0x03ff], // 1023·2^-24, the largest subnormal, exact
    ["f16", 0x387fe000, 0x0400], // 1023.5·2^-24: a tie, to even = 2^-14, the smallest normal
    ["f16", 0x387ff000, 0x0400], // just below 2^-14, rounds up into the normals
    ["f16", 0x38800000, 0x0400], // 2^-14
    ["f16", 0x3f801000, 0x3c00], // 1 + 2^-11: a tie, to even (down)
    ["f16", 0x3f803000, 0x3c02], // a tie with an odd last bit: up
    ["f16", 0x7f800001, 0x7e00], // NaN: quiet, payload truncated
    ["f16", 0xffc00000, 0xfe00], // -NaN
  ];
  for (const [kind, bits, want] of cases) {
    const out = new Uint16Array(1);
    packJs(kind, fromBits([bits]), out, 1);
    assert.equal(hex(out[0]!), hex(want), `${kind} of ${hex(bits)}`);
    if (wireAddon) {
      forEachIsa((isa) => {
        // Long enough for the vector loop: the case in every lane position of interest.
        const src = fromBits(Array.from({ length: 19 }, () => bits));
        const dst = new Uint16Array(19);
        wireAddon!.packF32(src, dst, 19, wireCode(kind));
        for (const v of dst) assert.equal(hex(v), hex(want), `${kind} of ${hex(bits)} on ${isa}`);
      });
    }
  }
});

function requireNative(t: { skip(msg: string): void }): boolean {
  if (wireAddon && nativeAddon) return true;
  assert.notEqual(process.env.WEFT_REQUIRE_NATIVE, "1", "native wire conversions are missing but WEFT_REQUIRE_NATIVE=1");
  t.skip("native addon lacks packF32: run `npm run build:native`");
  return false;
}

function assertSameBits(got: Uint16Array | Uint32Array, want: Uint16Array | Uint32Array, what: string, nanOk?: (i: number) => boolean): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < got.length; i++) {
    if (got[i] === want[i] || nanOk?.(i)) continue;
    assert.fail(`${what}: element ${i} is ${hex(got[i]!)}, the JavaScript loop gives ${hex(want[i]!)}`);
  }
}

test("native packing gives the JavaScript bits on every ISA variant, at every length and offset", (t) => {
  if (!requireNative(t)) return;
  const xs = Float32Array.from([...interestingFloats(), ...randomFloats(100_003, 7)]);
  for (const kind of KINDS) {
    const want = new Uint16Array(xs.length);
    packJs(kind, xs, want, xs.length);
    forEachIsa((isa) => {
      const got = new Uint16Array(xs.length);
      wireAddon!.packF32(xs, got, xs.length, wireCode(kind));
      assertSameBits(got, want, `${kind} pack on ${isa}`);
      // Short and unaligned runs: the vector loop's tail and every start lane.
      for (let n = 0; n <= 20; n++) {
        for (const off of [0, 1, 3, 5]) {
          const part = new Uint16Array(n);
          wireAddon!.packF32(xs.subarray(off, off + n), part, n, wireCode(kind));
          assertSameBits(part, want.subarray(off, off + n), `${kind} pack of ${n} at ${off} on ${isa}`);
        }
      }
    });
  }
});

test("native unpacking and unpack-add give the JavaScript bits on every ISA variant, for all 65536 codes", (t) => {
  if (!requireNative(t)) return;
  const codes = Uint16Array.from({ length: 65536 + 13 }, (_, i) => i & 0xffff);
  const addends = randomFloats(codes.length, 3).map((x) => (Number.isNaN(x) ? 1.5 : x));
  for (const kind of KINDS) {
    const want = new Float32Array(codes.length);
    unpackJs(kind, codes, want, codes.length);
    const wantSum = Float32Array.from(addends);
    unpackAddJs(kind, codes, wantSum, codes.length);
    forEachIsa((isa) => {
      const got = new Float32Array(codes.length);
      wireAddon!.unpackF32(codes, got, codes.length, wireCode(kind));
      assertSameBits(bitsOf(got), bitsOf(want), `${kind} unpack on ${isa}`);
      const sum = Float32Array.from(addends);
      wireAddon!.unpackAddF32(codes, sum, codes.length, wireCode(kind));
      // NaN + x is a NaN whose payload the two paths need not agree on; everything else must.
      assertSameBits(bitsOf(sum), bitsOf(wantSum), `${kind} unpack-add on ${isa}`, (i) => Number.isNaN(sum[i]!) && Number.isNaN(wantSum[i]!));
      for (let n = 0; n <= 20; n++) {
        const part = new Float32Array(n);
        wireAddon!.unpackF32(codes.subarray(1021, 1021 + n), part, n, wireCode(kind));
        assertSameBits(bitsOf(part), bitsOf(want.subarray(1021, 1021 + n)), `${kind} unpack of ${n} on ${isa}`);
      }
    });
  }
});

test("the native bindings refuse wrong types, short buffers and unknown kinds", (t) => {
  if (!requireNative(t)) return;
  const a = wireAddon!;
  assert.throws(() => a.packF32(new Float32Array(4), new Uint16Array(3), 4, 1), RangeError);
  assert.throws(() => a.packF32(new Float32Array(4), new Uint16Array(4), 4, 3), RangeError);
  assert.throws(() => a.unpackF32(new Uint16Array(4), new Float32Array(4), 4, 0), RangeError);
  assert.throws(() => a.unpackAddF32(new Int16Array(4) as unknown as Uint16Array, new Float32Array(4), 4, 2), TypeError);
});
