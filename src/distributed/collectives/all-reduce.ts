// All-reduce: every rank ends with the element-wise sum (or average) of all ranks' buffers, in
// place. Two algorithms, chosen by message size so that every rank makes the same choice:
//  - recursive doubling (recursive-doubling.ts) up to `smallMessageBytes`: fewest rounds, for
//    messages whose cost is wake-ups and round trips;
//  - the pipelined ring (ring.ts) above it: bandwidth-optimal.
// The reduction order of each is documented at its Note; both leave ranks bitwise identical.
// A 16-bit `wire` type compresses the frames of both (Note [compressed ring] in ring.ts, Note
// [compressed recursive doubling] in recursive-doubling.ts).
import { divideInPlace } from "../base/reduce.js";
import type { WireDtype } from "../compression/wire-dtype.js";
import type { Algorithm } from "./descriptor.js";
import type { OpContext } from "./op-context.js";
import { runRecursiveDoubling } from "./recursive-doubling.js";
import { runRing } from "./ring.js";

export function chooseAllReduceAlgorithm(count: number, worldSize: number, smallMessageBytes: number): Algorithm {
  if (worldSize === 1) return "none";
  return count * 4 <= smallMessageBytes || count < worldSize ? "recursive-doubling" : "ring";
}

export function runAllReduce(ctx: OpContext, buf: Float32Array, algorithm: Algorithm, average: boolean, wire: WireDtype): void {
  if (algorithm === "ring") return runRing(ctx, buf, { reduceScatter: true, allGather: true, average, wire });
  if (algorithm === "recursive-doubling") return runRecursiveDoubling(ctx, buf, average, wire);
  if (average) divideInPlace(buf, ctx.worldSize);
}
