// Nearest-neighbour upsampling of NCHW tensors by an integer factor: each input pixel becomes a
// factor x factor block of copies. It is what a U-Net's decoder uses to climb back to the
// input's resolution before concatenating the encoder's features of the same size.
//
// Note [upsampling as a broadcast]
// out[n, c, i, j] = x[n, c, floor(i / s), floor(j / s)] is the same thing as viewing x as
// (N, C, H, 1, W, 1), broadcasting it (a free view with stride 0) to (N, C, H, s, W, s) and
// reading that in row-major order as (N, C, H s, W s). So the op is composed of existing ones
// (reshape, expand, reshape), and its gradient comes from theirs: the backward of the broadcast
// sums each s x s block of the output gradient into its one input pixel,
//   dL/dx[n, c, h, w] = sum over a, b in 0..s-1 of dL/dout[n, c, h s + a, w s + b],
// which is s^2 times a stride-s average pool of the gradient. No kernel of its own is needed.
import { formatShape, ShapeError } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { expand, reshape } from "./shape-ops.js";

/**
 * Nearest-neighbour upsampling of x (N, C, H, W) to (N, C, H·factor, W·factor), differentiable
 * (Note [upsampling as a broadcast]).
 *
 * @param x an (N, C, H, W) tensor
 * @param factor how many times larger each side becomes (a positive integer; default 2)
 * @returns the (N, C, H·factor, W·factor) tensor whose factor × factor blocks repeat x's pixels
 *
 * @example A 2 x 2 image becomes 4 x 4 blocks of its pixels
 * ```ts
 * const x = new Tensor(Float32Array.of(1, 2, 3, 4), [1, 1, 2, 2]);
 * const y = upsampleNearest2d(x, 2);
 * assert.deepEqual(y.shape, [1, 1, 4, 4]);
 * assert.deepEqual(y.toArray(), [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
 * ```
 */
export function upsampleNearest2d(x: Tensor, factor = 2): Tensor {
  if (x.rank !== 4) throw new ShapeError(`upsampleNearest2d: expected input (N, C, H, W), got ${formatShape(x.shape)}`);
  if (!Number.isInteger(factor) || factor < 1) {
    throw new RangeError(`upsampleNearest2d: factor ${factor} must be a positive integer: each pixel becomes a factor x factor block`);
  }
  if (factor === 1) return x;
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const blocks = expand(reshape(x, [n, c, h, 1, w, 1]), [n, c, h, factor, w, factor]);
  // reshape of the (non-contiguous) broadcast copies it into row-major order: the upsampled image.
  return reshape(blocks, [n, c, h * factor, w * factor]);
}
