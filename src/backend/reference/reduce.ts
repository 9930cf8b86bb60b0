// Reductions over the middle axis of an (outer, n, inner) view: inner == 1 reduces rows, inner > 1
// reduces columns. Sums accumulate in float64; max and min propagate NaN (as PyTorch), and an
// empty reduction gives the operation's identity (0, -inf, +inf).
import type { Backend } from "../backend.js";

export const reduceKernels: Pick<Backend, "reduce"> = {
  reduce(op, x, out, outer, n, inner) {
    const identity = op === "sum" ? 0 : op === "max" ? -Infinity : Infinity;
    const combine = op === "sum" ? (s: number, v: number) => s + v : op === "max" ? Math.max : Math.min;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let acc = identity;
        for (let j = 0; j < n; j++) acc = combine(acc, x[(o * n + j) * inner + i]);
        out[o * inner + i] = acc;
      }
    }
  },
};
