// Reduce-scatter: the input of worldSize × m elements is summed across ranks and rank r receives
// chunk r (elements r·m .. r·m+m-1) of the sum in `output`. This is the ring's first phase on a
// private copy of the input (so the caller's input is left as it was); reduction order as in
// Note [ring reduction order] (with a 16-bit `wire`, Note [compressed ring]: partial sums travel
// rounded, the chunk a rank keeps is not rounded again).
import type { WireDtype } from "../compression/wire-dtype.js";
import type { OpContext } from "./op-context.js";
import { runRing } from "./ring.js";

export function runReduceScatter(ctx: OpContext, input: Float32Array, output: Float32Array, average: boolean, wire: WireDtype): () => void {
  const work = ctx.scratch("reduce-scatter", input.length).subarray(0, input.length);
  work.set(input);
  runRing(ctx, work, { reduceScatter: true, allGather: false, average, wire });
  const m = output.length;
  // Copies the result out once the operation has completed.
  return () => output.set(work.subarray(ctx.rank * m, ctx.rank * m + m));
}
