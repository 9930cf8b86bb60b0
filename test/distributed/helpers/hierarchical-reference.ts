// The hierarchical all-reduce's result computed in one process from its documented order
// (docs/distributed.md, "Several ranks per machine"), not from the group's code: each machine sums
// its ranks in local-rank order, the machines' sums are combined as a flat group of one rank per
// machine combines them (ring order, or recursive doubling up to smallMessageBytes), and "avg"
// divides that by the number of ranks.
import { rankOrderReference, recursiveDoublingReference, ringReference } from "./reference-sum.js";

/** `inputs[r]` is job rank r's buffer; `machines[m]` the job ranks of machine m in local-rank order. */
export function hierarchicalReference(inputs: Float32Array[], machines: number[][], average: boolean, smallMessageBytes: number): Float32Array {
  const sums = machines.map((ranks) => rankOrderReference(ranks.map((r) => inputs[r]!), false));
  const count = inputs[0]!.length;
  const ring = count * 4 > smallMessageBytes && count >= machines.length;
  const total = ring ? ringReference(sums, false) : recursiveDoublingReference(sums, false);
  if (average) for (let i = 0; i < count; i++) total[i] = Math.fround(total[i]! / inputs.length);
  return total;
}
