// The hierarchical all-reduce's result computed in one process from its documented order
// (docs/distributed.md, "Several ranks per machine"), not from the group's code: each machine sums
// its ranks in local-rank order, the machines' sums are combined as a flat group of one rank per
// machine combines them (ring order, or recursive doubling up to smallMessageBytes), and "avg"
// divides that by the number of ranks.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { orderSensitiveInputs, rankOrderReference, recursiveDoublingReference, ringReference } from "./reference-sum.js";
import { HIERARCHY_CASES, HIERARCHY_SMALL_BYTES } from "./hierarchical-cases.js";

/** `inputs[r]` is job rank r's buffer; `machines[m]` the job ranks of machine m in local-rank order. */
export function hierarchicalReference(inputs: Float32Array[], machines: number[][], average: boolean, smallMessageBytes: number): Float32Array {
  const sums = machines.map((ranks) => rankOrderReference(ranks.map((r) => inputs[r]!), false));
  const count = inputs[0]!.length;
  const ring = count * 4 > smallMessageBytes && count >= machines.length;
  const total = ring ? ringReference(sums, false) : recursiveDoublingReference(sums, false);
  if (average) for (let i = 0; i < count; i++) total[i] = Math.fround(total[i]! / inputs.length);
  return total;
}

const hash = (a: Float32Array): string => createHash("sha256").update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest("hex");

/** Asserts every rank's all-reduce results equal the documented order's bits, and not the flat ring's. */
export function assertDocumentedBits(by: Map<string, Record<string, unknown>[]>, machines: number[][]): void {
  const w = machines.flat().length;
  for (const c of HIERARCHY_CASES) {
    const inputs = orderSensitiveInputs(w, c.count, c.seed);
    const expected = hash(hierarchicalReference(inputs, machines, c.op === "avg", HIERARCHY_SMALL_BYTES));
    const rows = by.get(`${c.count} ${c.op}`) ?? [];
    assert.equal(rows.length, w, `${c.count} ${c.op}: rows`);
    for (const row of rows) assert.equal(row.hash, expected, `rank ${row.rank}, ${c.count} floats ${c.op}`);
    // The order is what is tested: these inputs give other bits in the flat ring's order.
    if (c.count > 100) assert.notEqual(hash(ringReference(inputs, c.op === "avg")), expected, `${c.count} ${c.op}: the flat ring's order gives the same bits`);
  }
}
