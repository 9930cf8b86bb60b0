// A toy classification task for the strategy tests: a small MLP, each rank's batch a function of
// (seed, rank, step) only (as a loader's batches are), and the model's parameters as one flat
// vector, so a strategy's replicas can be compared with a single-process simulation.
import { FlatState } from "../../../src/distributed/strategies/flat-state.js";
import { Linear, manualSeed, ReLU, Sequential } from "../../../src/nn/index.js";
import { crossEntropy, randn, type Tensor } from "../../../src/tensor/index.js";
import { Rng } from "../../../src/util/rng.js";

/** 6 inputs, 16 hidden, 3 classes, initialised from `seed`. */
export function toyModel(seed: number): Sequential {
  manualSeed(seed);
  return new Sequential(new Linear(6, 16), new ReLU(), new Linear(16, 3));
}

/** The toy task of one test file: `seed` keeps files' batches apart. */
export function toyTask(seed: number) {
  /** Rank r's batch of step t. */
  const batch = (r: number, t: number): { x: Tensor; y: Int32Array } => {
    const rng = new Rng(seed + r).fork(t);
    const x = randn([8, 6], rng);
    return { x, y: Int32Array.from({ length: 8 }, () => rng.int(3)) };
  };
  const lossOf = (m: Sequential, r: number, t: number): Tensor => crossEntropy(m.forward(batch(r, t).x), batch(r, t).y);
  return { batch, lossOf };
}

/** Every parameter of `m`, in FlatState's order, in one new array. */
export function flatParameters(m: Sequential): Float32Array {
  const s = new FlatState(m);
  const out = new Float32Array(s.size);
  s.read(out);
  return out;
}

export function maxDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}
