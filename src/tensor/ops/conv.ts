// Convolution and pooling on NCHW tensors. conv1d is conv2d with a height of 1.
import { backend } from "../../backend/index.js";
import { outputSize, type Conv2dParams, type Pool2dParams } from "../../backend/backend.js";
import { formatShape, ShapeError } from "../shape.js";
import { accumulateGrad, fromOp, Tensor } from "../tensor.js";
import { reshape } from "./shape-ops.js";
import { recycleInt32, uninitialized, uninitializedInt32 } from "../storage.js";

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
}

const pair = (v: number | [number, number] | undefined, fallback: number): [number, number] =>
  v === undefined ? [fallback, fallback] : typeof v === "number" ? [v, v] : v;

/** x (N, C, H, W) * weight (OC, C, KH, KW) + bias (OC) -> (N, OC, OH, OW). */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null, options: Conv2dOptions = {}): Tensor {
  if (x.rank !== 4 || weight.rank !== 4 || x.shape[1] !== weight.shape[1]) {
    throw new ShapeError(
      `conv2d: expected input (N, C, H, W) and weight (OC, C, KH, KW) with equal C, got ${formatShape(x.shape)} and ${formatShape(weight.shape)}`,
    );
  }
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const [oc, , kh, kw] = weight.shape as [number, number, number, number];
  if (bias && (bias.rank !== 1 || bias.size !== oc)) throw new ShapeError(`conv2d: bias ${formatShape(bias.shape)} should be [${oc}]`);
  const [strideH, strideW] = pair(options.stride, 1);
  const [padH, padW] = pair(options.padding, 0);
  const p: Conv2dParams = { n, c, h, w, oc, kh, kw, strideH, strideW, padH, padW };
  const oh = outputSize(h, kh, strideH, padH), ow = outputSize(w, kw, strideW, padW);
  if (oh < 1 || ow < 1) throw new ShapeError(`conv2d: a ${kh}x${kw} kernel does not fit input ${h}x${w} with padding ${padH}x${padW}`);
  const xd = x.dense(), wd = weight.dense();
  const out = uninitialized(n * oc * oh * ow);
  backend().conv2d(p, xd, wd, bias ? bias.dense() : null, out);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return fromOp("conv2d", out, [n, oc, oh, ow], inputs, (g) => {
    if (x.requiresGrad) {
      const gx = uninitialized(x.size);
      backend().conv2dBackwardInput(p, g, wd, gx);
      accumulateGrad(x, gx, true);
    }
    if (weight.requiresGrad || bias?.requiresGrad) {
      const gw = uninitialized(weight.size);
      const gb = bias ? uninitialized(oc) : null;
      backend().conv2dBackwardWeight(p, xd, g, gw, gb);
      accumulateGrad(weight, gw, true);
      if (bias && gb) accumulateGrad(bias, gb, true);
    }
  });
}

/** x (N, C, L) * weight (OC, C, K) + bias -> (N, OC, OL). */
export function conv1d(x: Tensor, weight: Tensor, bias: Tensor | null, options: { stride?: number; padding?: number } = {}): Tensor {
  if (x.rank !== 3 || weight.rank !== 3) {
    throw new ShapeError(`conv1d: expected input (N, C, L) and weight (OC, C, K), got ${formatShape(x.shape)} and ${formatShape(weight.shape)}`);
  }
  const y = conv2d(
    reshape(x, [x.shape[0]!, x.shape[1]!, 1, x.shape[2]!]),
    reshape(weight, [weight.shape[0]!, weight.shape[1]!, 1, weight.shape[2]!]),
    bias,
    { stride: [1, options.stride ?? 1], padding: [0, options.padding ?? 0] },
  );
  return reshape(y, [y.shape[0]!, y.shape[1]!, y.shape[3]!]);
}

export interface Pool2dOptions {
  kernel: number | [number, number];
  stride?: number | [number, number];
  padding?: number | [number, number];
}

function poolParams(op: string, x: Tensor, o: Pool2dOptions): { p: Pool2dParams; oh: number; ow: number } {
  if (x.rank !== 4) throw new ShapeError(`${op}: expected input (N, C, H, W), got ${formatShape(x.shape)}`);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const [kh, kw] = pair(o.kernel, 1);
  const [strideH, strideW] = o.stride === undefined ? [kh, kw] : pair(o.stride, 1);
  const [padH, padW] = pair(o.padding, 0);
  const oh = outputSize(h, kh, strideH, padH), ow = outputSize(w, kw, strideW, padW);
  if (oh < 1 || ow < 1) throw new ShapeError(`${op}: a ${kh}x${kw} window does not fit input ${h}x${w}`);
  return { p: { n, c, h, w, kh, kw, strideH, strideW, padH, padW }, oh, ow };
}

export function maxPool2d(x: Tensor, options: Pool2dOptions): Tensor {
  const { p, oh, ow } = poolParams("maxPool2d", x, options);
  const out = uninitialized(p.n * p.c * oh * ow);
  const argmax = uninitializedInt32(out.length);
  backend().maxPool2d(p, x.dense(), out, argmax);
  return fromOp("maxPool2d", out, [p.n, p.c, oh, ow], [x], (g) => {
    const gx = uninitialized(x.size);
    backend().maxPool2dBackward(p, g, argmax, gx);
    // Only this closure holds the indices, and it runs once (Note [freeing the graph]).
    recycleInt32(argmax);
    accumulateGrad(x, gx, true);
  });
}

export function avgPool2d(x: Tensor, options: Pool2dOptions): Tensor {
  const { p, oh, ow } = poolParams("avgPool2d", x, options);
  const out = uninitialized(p.n * p.c * oh * ow);
  backend().avgPool2d(p, x.dense(), out);
  return fromOp("avgPool2d", out, [p.n, p.c, oh, ow], [x], (g) => {
    const gx = uninitialized(x.size);
    backend().avgPool2dBackward(p, g, gx);
    accumulateGrad(x, gx, true);
  });
}
