// Seeded initialisation. Layers draw their initial weights from one process-wide generator,
// seeded by manualSeed (as torch.manual_seed does), so a model built twice after the same seed is
// identical, on every rank and every run.
import { Rng } from "../util/rng.js";
import { Tensor } from "../tensor/tensor.js";
import { sizeOf, type Shape } from "../tensor/shape.js";

let generator = new Rng(0);

/** Reseeds weight initialisation and dropout. */
export function manualSeed(seed: number): void {
  generator = new Rng(seed);
}

/** The generator layers draw from (weights at construction, dropout seeds per call). */
export function initRng(): Rng {
  return generator;
}

/** U(-bound, bound), a parameter. PyTorch's default for Linear and Conv uses bound = 1 / sqrt(fan_in). */
export function uniformParam(shape: Shape, bound: number): Tensor {
  const data = new Float32Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = (2 * generator.next() - 1) * bound;
  return new Tensor(data, shape, undefined, 0, true);
}

/** N(0, std), a parameter (embeddings). */
export function normalParam(shape: Shape, std: number): Tensor {
  const data = new Float32Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = generator.normal() * std;
  return new Tensor(data, shape, undefined, 0, true);
}

export function constantParam(shape: Shape, value: number): Tensor {
  const data = new Float32Array(sizeOf(shape));
  if (value !== 0) data.fill(value);
  return new Tensor(data, shape, undefined, 0, true);
}
