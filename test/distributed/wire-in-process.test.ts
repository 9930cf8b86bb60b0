// bf16 and f16 on the wire, on the in-process transport (same engine and ring as over TCP): the
// documented rounding order bit for bit, the same bits on every rank, the documented precision,
// and a mismatch error when ranks ask for different wire types.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createInProcessGroups } from "../../src/distributed/group/in-process-group.js";
import { CollectiveMismatchError } from "../../src/distributed/base/errors.js";
import {
  bitwiseEqual, compressedRingReference, orderSensitiveInputs, recursiveDoublingReference, ringReference, wireErrorRatio,
} from "./helpers/reference-sum.js";
import type { Wire16 } from "./helpers/wire-rounding.js";

// Small segments (64 float32 = 256 bytes, so 128 wire elements) make every size below span many
// segments per chunk; all-reduces above 256 bytes take the ring.
const SMALL = 256;
const SEGMENT_BYTES = 256;
const WIRES: Wire16[] = ["bf16", "f16"];
// f16 ends at 65504: keep magnitudes below 50 so that sums of up to 5 ranks stay finite.
const decadesFor = (wire: Wire16): number => (wire === "f16" ? 5 : 8);

async function wireCase(world: number, count: number, average: boolean, wire: Wire16, stagingBytes?: number): Promise<void> {
  const groups = createInProcessGroups(world, { smallMessageBytes: SMALL, segmentBytes: SEGMENT_BYTES, ...(stagingBytes ? { stagingBytes } : {}) });
  const inputs = orderSensitiveInputs(world, count, count + world, decadesFor(wire));
  const bufs = inputs.map((x) => Float32Array.from(x));
  await Promise.all(groups.map((g, r) => g.allReduce(bufs[r]!, { op: average ? "avg" : "sum", wire })));
  const expected = compressedRingReference(inputs, average, wire);
  const what = `${wire}, ${world} ranks, ${count} floats, ${average ? "avg" : "sum"}`;
  for (let r = 0; r < world; r++) assert.ok(bitwiseEqual(bufs[r]!, expected), `rank ${r} differs from the documented rounding (${what})`);
  const ratio = wireErrorRatio(bufs[0]!, inputs, average, wire);
  assert.ok(ratio <= 1, `error ${ratio.toFixed(3)}× the documented bound (${what})`);
  await Promise.all(groups.map((g) => g.destroy()));
}

test("bf16 and f16 all-reduce give the documented rounding bit for bit on every rank, within the documented error", async () => {
  for (const wire of WIRES) {
    for (const world of [2, 3, 4, 5]) {
      for (const count of [65, 127, 1000, 5003]) {
        await wireCase(world, count, false, wire);
        await wireCase(world, count, true, wire);
      }
    }
  }
});

test("compression really rounds: bf16 results differ from the float32 ring and are coarser than f16", async () => {
  const world = 3;
  const count = 4099;
  const inputs = orderSensitiveInputs(world, count, 5, 5);
  const errors: Record<string, number> = {};
  for (const wire of ["f32", ...WIRES] as const) {
    const groups = createInProcessGroups(world, { smallMessageBytes: SMALL, segmentBytes: SEGMENT_BYTES });
    const bufs = inputs.map((x) => Float32Array.from(x));
    await Promise.all(groups.map((g, r) => g.allReduce(bufs[r]!, { wire })));
    if (wire === "f32") assert.ok(bitwiseEqual(bufs[0]!, ringReference(inputs, false)));
    let worst = 0;
    for (let i = 0; i < count; i++) {
      const exact = inputs[0]![i]! + inputs[1]![i]! + inputs[2]![i]!;
      worst = Math.max(worst, Math.abs(bufs[0]![i]! - exact) / Math.max(Math.abs(exact), 1e-3));
    }
    errors[wire] = worst;
    await Promise.all(groups.map((g) => g.destroy()));
  }
  assert.ok(errors.bf16! > errors.f16! && errors.f16! > errors.f32!, JSON.stringify(errors));
});

test("a staging window smaller than a step still gives the documented bits with bf16", async () => {
  for (const world of [2, 3, 4]) await wireCase(world, 5003, false, "bf16", 128);
});

test("messages small enough for recursive doubling are packed too: the documented rounding bit for bit on every rank, within the documented error", async () => {
  // Note [compressed recursive doubling]. 60 floats (240 bytes) stay under SMALL; segments of 128
  // wire elements, and 3 floats give a segment shorter than the rest and fewer floats than ranks.
  for (const wire of WIRES) {
    for (const world of [2, 3, 4, 5]) {
      for (const count of [3, 60]) {
        for (const average of [false, true]) {
          const groups = createInProcessGroups(world, { smallMessageBytes: SMALL, segmentBytes: 16 });
          const inputs = orderSensitiveInputs(world, count, count + world, decadesFor(wire));
          const bufs = inputs.map((x) => Float32Array.from(x));
          await Promise.all(groups.map((g, r) => g.allReduce(bufs[r]!, { op: average ? "avg" : "sum", wire })));
          const expected = recursiveDoublingReference(inputs, average, wire);
          const what = `${wire}, ${world} ranks, ${count} floats, ${average ? "avg" : "sum"}`;
          for (let r = 0; r < world; r++) assert.ok(bitwiseEqual(bufs[r]!, expected), `rank ${r} differs from the documented rounding (${what})`);
          assert.ok(!bitwiseEqual(bufs[0]!, recursiveDoublingReference(inputs, average)), `${what}: no rounding happened`);
          const ratio = wireErrorRatio(bufs[0]!, inputs, average, wire);
          assert.ok(ratio <= 1, `error ${ratio.toFixed(3)}× the documented bound (${what})`);
          await Promise.all(groups.map((g) => g.destroy()));
        }
      }
    }
  }
});

test("the group-wide wire option applies to all-reduces that name none", async () => {
  const groups = createInProcessGroups(3, { smallMessageBytes: SMALL, segmentBytes: SEGMENT_BYTES, wire: "f16" });
  const inputs = orderSensitiveInputs(3, 3001, 4, 5);
  const bufs = inputs.map((x) => Float32Array.from(x));
  await Promise.all(groups.map((g, r) => g.allReduce(bufs[r]!, { op: "avg" })));
  for (const b of bufs) assert.ok(bitwiseEqual(b, compressedRingReference(inputs, true, "f16")));
  await Promise.all(groups.map((g) => g.destroy()));
});

test("reduce-scatter with bf16 sends rounded partial sums and keeps the owner's chunk in float32", async () => {
  for (const world of [2, 3]) {
    const m = 1001;
    const groups = createInProcessGroups(world, { segmentBytes: SEGMENT_BYTES });
    const inputs = orderSensitiveInputs(world, world * m, 3);
    const outs = inputs.map(() => new Float32Array(m));
    await Promise.all(groups.map((g, r) => g.reduceScatter(Float32Array.from(inputs[r]!), outs[r]!, { wire: "bf16" })));
    const full = compressedRingReference(inputs, false, "bf16", false);
    for (let r = 0; r < world; r++) assert.ok(bitwiseEqual(outs[r]!, full.subarray(r * m, r * m + m)), `rank ${r} of ${world}`);
    await Promise.all(groups.map((g) => g.destroy()));
  }
});

test("ranks asking for different wire types all get CollectiveMismatchError naming both", async () => {
  for (const count of [1000, 10]) {
    // 1000 floats take the ring, 10 recursive doubling: the option must agree either way.
    const groups = createInProcessGroups(3, { smallMessageBytes: SMALL });
    const wires = ["bf16", "bf16", "f16"] as const;
    const results = await Promise.allSettled(groups.map((g, r) => g.allReduce(new Float32Array(count), { wire: wires[r] })));
    for (const [r, res] of results.entries()) {
      assert.equal(res.status, "rejected", `rank ${r} did not fail`);
      const err = (res as PromiseRejectedResult).reason;
      assert.ok(err instanceof CollectiveMismatchError, `rank ${r}: ${err}`);
      assert.match(err.message, /asked for (bf16|f16) on the wire, rank \d for (f16|bf16)/);
    }
    await Promise.all(groups.map((g) => g.destroy()));
  }
});

test("an unknown wire type is refused before anything is sent", async () => {
  const [a, b] = createInProcessGroups(2);
  await assert.rejects(a!.allReduce(new Float32Array(4), { wire: "fp8" as never }), RangeError);
  assert.throws(() => createInProcessGroups(2, { wire: "int8" as never }), RangeError);
  await Promise.all([a!.destroy(), b!.destroy()]);
});
