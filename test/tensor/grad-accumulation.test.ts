// Gradient accumulation (accumulateGrad in src/tensor/tensor.ts) on each backend: where a borrowed
// gradient meets one that an op handed over, the sum is right and the lender's buffer, which
// other tensors may hold too, is left as it was.
import assert from "node:assert/strict";
import { testEachBackend as test } from "./each-backend.js";
import * as T from "../../src/tensor/index.js";

test("a borrowed gradient meeting an owned one sums right and leaves the lender's buffer alone", () => {
  const x = T.tensor([1, 2, 3], [3], { requiresGrad: true });
  const w = T.tensor([4, 5, 6], [3], { requiresGrad: true });
  const y = T.affine(w, 2);
  // add(x, y) lends its g to x and to y; then mul(x, y) hands x a fresh g y, which meets the
  // lent g. y's own backward runs last (both consume it), so it still reads the lent buffer.
  const out = T.add(T.mul(x, y), T.add(x, y));
  const g = [0.5, -1, 2];
  out.backward(T.tensor(g, [3]));
  const yv = [8, 10, 12], xv = [1, 2, 3];
  assert.deepEqual(x.grad!.toArray(), g.map((v, i) => v + v * yv[i]!));
  assert.deepEqual(w.grad!.toArray(), g.map((v, i) => 2 * (v + v * xv[i]!)), "y held the lent buffer: it must still have held g");
});
