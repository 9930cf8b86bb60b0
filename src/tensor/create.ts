// Making tensors: from values, filled, or random from a seeded generator (never Math.random, so
// that every run and every rank can reproduce its initialisation).
import type { Rng } from "../util/rng.js";
import { formatShape, sizeOf, type Shape } from "./shape.js";
import { Tensor } from "./tensor.js";

export interface TensorOptions {
  requiresGrad?: boolean;
}

/** A tensor holding `values` (a flat list or Float32Array, row-major) with `shape` (default: 1-D). */
export function tensor(values: ArrayLike<number>, shape?: Shape, options: TensorOptions = {}): Tensor {
  const data = values instanceof Float32Array ? values : Float32Array.from(values);
  const s = shape ?? [data.length];
  if (sizeOf(s) !== data.length) {
    throw new RangeError(`tensor: ${data.length} values do not fill shape ${formatShape(s)} (${sizeOf(s)} elements)`);
  }
  return new Tensor(data, s, undefined, 0, options.requiresGrad ?? false);
}

export function full(shape: Shape, value: number, options: TensorOptions = {}): Tensor {
  const data = new Float32Array(sizeOf(shape));
  if (value !== 0) data.fill(value);
  return new Tensor(data, shape, undefined, 0, options.requiresGrad ?? false);
}

export function zeros(shape: Shape, options: TensorOptions = {}): Tensor {
  return full(shape, 0, options);
}

export function ones(shape: Shape, options: TensorOptions = {}): Tensor {
  return full(shape, 1, options);
}

/** Standard normal values scaled by `std`. */
export function randn(shape: Shape, rng: Rng, std = 1, options: TensorOptions = {}): Tensor {
  const data = new Float32Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal() * std;
  return new Tensor(data, shape, undefined, 0, options.requiresGrad ?? false);
}

/** Uniform values in [low, high). */
export function uniform(shape: Shape, rng: Rng, low: number, high: number, options: TensorOptions = {}): Tensor {
  const data = new Float32Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = low + (high - low) * rng.next();
  return new Tensor(data, shape, undefined, 0, options.requiresGrad ?? false);
}

/** 0, 1, ..., n - 1. */
export function arange(n: number): Tensor {
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = i;
  return new Tensor(data, [n]);
}
