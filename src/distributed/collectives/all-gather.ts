// All-gather: rank r's input of m elements ends up at output[r·m .. r·m+m-1] on every rank. The
// ring's second phase: each rank starts with its own chunk in place and forwards what it receives;
// segments are received straight into `output`.
import type { OpContext } from "./op-context.js";
import { runRing } from "./ring.js";

export function runAllGather(ctx: OpContext, input: Float32Array, output: Float32Array): void {
  const m = input.length;
  const own = output.subarray(ctx.rank * m, ctx.rank * m + m);
  if (own.buffer !== input.buffer || own.byteOffset !== input.byteOffset) own.set(input);
  runRing(ctx, output, { reduceScatter: false, allGather: true, average: false, wire: "f32" });
}
