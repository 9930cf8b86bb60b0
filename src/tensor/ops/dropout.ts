// Dropout: zero each element with probability p and scale the rest by 1 / (1 - p). The mask is a
// pure function of (seed, element index), so a step can be replayed exactly.
import { backend } from "../../backend/index.js";
import { Tensor } from "../tensor.js";
import { mul } from "./elementwise.js";

export function dropout(x: Tensor, p: number, seed: number): Tensor {
  if (!(p >= 0 && p < 1)) throw new RangeError(`dropout: p must be in [0, 1), got ${p}`);
  if (p === 0) return x;
  const mask = new Float32Array(x.size);
  backend().dropoutMask(mask, x.size, p, seed >>> 0);
  return mul(x, new Tensor(mask, x.shape));
}
