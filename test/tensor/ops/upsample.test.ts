// Nearest-neighbour upsampling (src/tensor/ops/upsample.ts): a hand-worked case, its gradient by
// hand (each input pixel collects the sum of its block of output gradient) and against finite
// differences, on the reference and the native backend.
import assert from "node:assert/strict";
import { test } from "node:test";
import { nativeBackend, referenceBackend, setBackend, type Backend } from "../../../src/backend/index.js";
import { avgPool2d, mul, noGrad, Tensor, transpose } from "../../../src/tensor/index.js";
import { upsampleNearest2d } from "../../../src/tensor/ops/upsample.js";
import { Upsample } from "../../../src/nn/upsample.js";
import { Rng } from "../../../src/util/rng.js";
import { gradcheck, param } from "../gradcheck.js";

const backends: Backend[] = [referenceBackend, ...(nativeBackend ? [nativeBackend] : [])];

for (const b of backends) {
  test(`upsampling by 2 repeats each pixel over a 2x2 block, channel by channel [${b.name}]`, () => {
    const previous = setBackend(b);
    try {
      // (1, 2, 2, 2): channel 0 is [[1, 2], [3, 4]], channel 1 is [[5, 6], [7, 8]].
      const x = new Tensor(Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8), [1, 2, 2, 2]);
      const y = upsampleNearest2d(x);
      assert.deepEqual(y.shape, [1, 2, 4, 4]);
      assert.deepEqual(y.toArray(), [
        1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4,
        5, 5, 6, 6, 5, 5, 6, 6, 7, 7, 8, 8, 7, 7, 8, 8,
      ]);
      // A factor of 3 on a 1 x 2 image: each pixel a 3 x 3 block.
      assert.deepEqual(upsampleNearest2d(new Tensor(Float32Array.of(1, 2), [1, 1, 1, 2]), 3).toArray(), [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2]);
    } finally {
      setBackend(previous);
    }
  });

  test(`the gradient of each input pixel is the sum of its block's output gradient [${b.name}]`, () => {
    const previous = setBackend(b);
    try {
      const x = new Tensor(new Float32Array(4), [1, 1, 2, 2], undefined, 0, true);
      const g = Float32Array.from({ length: 16 }, (_, i) => i); // output gradient 0..15, row-major 4 x 4
      upsampleNearest2d(x).backward(new Tensor(g, [1, 1, 4, 4]));
      // Block (0, 0) holds 0, 1, 4, 5; (0, 1) 2, 3, 6, 7; (1, 0) 8, 9, 12, 13; (1, 1) 10, 11, 14, 15.
      assert.deepEqual(x.grad!.toArray(), [10, 18, 42, 50]);
      // The same as 4 x a stride-2 average pool of the gradient (Note [upsampling as a broadcast]).
      const pooled = noGrad(() => avgPool2d(new Tensor(g, [1, 1, 4, 4]), { kernel: 2 })).toArray().map((v) => 4 * v);
      assert.deepEqual(x.grad!.toArray(), pooled);
    } finally {
      setBackend(previous);
    }
  });

  test(`upsampling matches finite differences, alone and inside a computation [${b.name}]`, () => {
    const previous = setBackend(b);
    try {
      const rng = new Rng(5);
      gradcheck("upsample x2", (x) => upsampleNearest2d(x, 2), [param([2, 3, 3, 2], rng)]);
      gradcheck("upsample x3", (x) => upsampleNearest2d(x, 3), [param([1, 2, 2, 3], rng)]);
      // A non-contiguous input (a transpose), used twice: gradients from both uses add up.
      gradcheck("upsample of a transpose, squared", (x) => {
        const y = new Upsample(2).forward(transpose(x, 2, 3));
        return mul(y, y);
      }, [param([1, 2, 3, 2], rng)]);
    } finally {
      setBackend(previous);
    }
  });
}

test("bad inputs are refused with what to do", () => {
  assert.throws(() => upsampleNearest2d(new Tensor(new Float32Array(4), [2, 2])), /expected input \(N, C, H, W\), got \[2, 2\]/);
  assert.throws(() => upsampleNearest2d(new Tensor(new Float32Array(4), [1, 1, 2, 2]), 1.5), /factor 1.5 must be a positive integer/);
  assert.throws(() => new Upsample(0), /factor 0 must be a positive integer/);
  const x = new Tensor(new Float32Array(4), [1, 1, 2, 2]);
  assert.equal(upsampleNearest2d(x, 1), x, "a factor of 1 is the input itself");
});
