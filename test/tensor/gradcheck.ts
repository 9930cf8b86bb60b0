// Finite-difference gradient checking for the tensor ops. The loss is a random weighting of the
// op's output, so every output element's gradient is exercised; central differences in float32
// are compared with the analytic gradient under a tolerance suited to single precision.
import assert from "node:assert/strict";
import { Rng } from "../../src/util/rng.js";
import { noGrad, Tensor } from "../../src/tensor/tensor.js";

export interface GradcheckOptions {
  eps?: number;
  tolerance?: number;
}

/** A random tensor that requires a gradient. */
export function param(shape: number[], rng: Rng, scale = 1): Tensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal() * scale;
  return new Tensor(data, shape, undefined, 0, true);
}

function weightedSum(out: Tensor, w: Float32Array): number {
  const d = out.dense();
  let s = 0;
  for (let i = 0; i < d.length; i++) s += d[i]! * w[i]!;
  return s;
}

/** Asserts that backward through f matches central differences for every input element. */
export function gradcheck(name: string, f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): void {
  const eps = opts.eps ?? 1e-2;
  const tolerance = opts.tolerance ?? 2e-2;
  const rng = new Rng(7);
  const probe = noGrad(() => f(...inputs));
  const w = new Float32Array(probe.size);
  for (let i = 0; i < w.length; i++) w[i] = rng.normal();
  for (const x of inputs) x.grad = null;
  const out = f(...inputs);
  out.backward(new Tensor(w.slice(), out.shape));
  for (const [k, x] of inputs.entries()) {
    if (!x.requiresGrad) continue;
    assert.ok(x.grad, `${name}: input ${k} got no gradient`);
    const analytic = x.grad.dense();
    for (let i = 0; i < x.size; i++) {
      const keep = x.data[i]!;
      x.data[i] = keep + eps;
      const up = noGrad(() => weightedSum(f(...inputs), w));
      x.data[i] = keep - eps;
      const down = noGrad(() => weightedSum(f(...inputs), w));
      x.data[i] = keep;
      const numeric = (up - down) / (2 * eps);
      const err = Math.abs(numeric - analytic[i]!) / Math.max(1, Math.abs(numeric));
      assert.ok(err < tolerance, `${name}: input ${k} element ${i}: analytic ${analytic[i]} vs numeric ${numeric}`);
    }
  }
}

/**
 * A parameter whose values are at least `margin` from zero (for kinks at 0: relu, abs, and
 * max/min of a value against its negation), so central differences never straddle the kink.
 */
export function paramAwayFromZero(shape: number[], rng: Rng, margin = 0.1): Tensor {
  const t = param(shape, rng);
  for (let i = 0; i < t.size; i++) t.data[i] = Math.sign(t.data[i]! || 1) * (margin + Math.abs(t.data[i]!));
  return t;
}

/** A parameter whose values are all distinct by at least `gap` (for max-pooling and max/min reductions: no near-ties). */
export function paramDistinct(shape: number[], rng: Rng, gap = 0.1): Tensor {
  const t = param(shape, rng);
  const order = rng.shuffle(Array.from({ length: t.size }, (_, i) => i));
  order.forEach((v, i) => (t.data[i] = (v - t.size / 2) * gap));
  return t;
}
