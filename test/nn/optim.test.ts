// Optimizers drive a small regression to its solution; schedules and clipping do what they say.
import assert from "node:assert/strict";
import { test } from "node:test";
import { referenceBackend, setBackend } from "../../src/backend/index.js";
import * as nn from "../../src/nn/index.js";
import { Adam, AdamW, clipGradNorm, SGD, stepDecay, warmupCosine, type Optimizer } from "../../src/optim/index.js";
import * as T from "../../src/tensor/index.js";
import { Rng } from "../../src/util/rng.js";

setBackend(referenceBackend);

function fit(make: (params: T.Tensor[]) => Optimizer, steps: number): number {
  nn.manualSeed(0);
  const rng = new Rng(5);
  const model = new nn.Linear(3, 1);
  const x = T.randn([32, 3], rng);
  const trueW = T.tensor([1.5, -2, 0.5], [3, 1]);
  const y = T.add(T.matmul(x, trueW), 0.25);
  const opt = make(model.parameters());
  let loss = Infinity;
  for (let i = 0; i < steps; i++) {
    opt.zeroGrad();
    const l = T.mseLoss(model.forward(x), y);
    l.backward();
    opt.step();
    loss = l.item();
  }
  return loss;
}

test("SGD, SGD with Nesterov momentum, Adam and AdamW fit a linear regression", () => {
  assert.ok(fit((p) => new SGD(p, { lr: 0.1 }), 200) < 1e-4);
  assert.ok(fit((p) => new SGD(p, { lr: 0.05, momentum: 0.9, nesterov: true }), 200) < 1e-4);
  assert.ok(fit((p) => new Adam(p, { lr: 0.05 }), 400) < 1e-3);
  assert.ok(fit((p) => new AdamW(p, { lr: 0.05, weightDecay: 0 }), 400) < 1e-3);
});

test("optimizer state survives a state-dict round trip", () => {
  const p = T.tensor([1, 2, 3], [3], { requiresGrad: true });
  const a = new Adam([p], { lr: 0.1 });
  p.grad = T.tensor([0.1, -0.2, 0.3]);
  a.step();
  const q = T.tensor(p.toArray(), [3], { requiresGrad: true });
  const b = new Adam([q], { lr: 0.1 });
  b.loadStateDict(a.stateDict());
  p.grad = q.grad = T.tensor([0.5, 0.5, -0.5]);
  a.step();
  b.step();
  assert.deepEqual(q.toArray(), p.toArray());
  assert.throws(() => b.loadStateDict({ step: 1, buffers: { "0.exp_avg": new Float32Array(2) } }), /has 2 values, parameter 0 has 3/);
});

test("schedules: warm-up then cosine; step decay", () => {
  const s = warmupCosine({ peak: 1, warmup: 10, total: 110, floor: 0.1 });
  assert.equal(s(0), 0.1);
  assert.equal(s(9), 1);
  assert.ok(Math.abs(s(60) - 0.55) < 1e-9);
  assert.ok(Math.abs(s(110) - 0.1) < 1e-9);
  const d = stepDecay({ base: 1, every: 5, gamma: 0.5 });
  assert.deepEqual([d(0), d(4), d(5), d(12)], [1, 1, 0.5, 0.25]);
});

test("clipGradNorm scales gradients to the global norm and reports non-finite norms", () => {
  const a = T.tensor([0, 0], [2], { requiresGrad: true }), b = T.tensor([0], [1], { requiresGrad: true });
  a.grad = T.tensor([3, 0]);
  b.grad = T.tensor([4]);
  assert.equal(clipGradNorm([a, b], 1), 5);
  const norm = Math.hypot(...a.grad.toArray(), ...b.grad.toArray());
  assert.ok(Math.abs(norm - 1) < 1e-5);
  b.grad = T.tensor([NaN]);
  assert.ok(Number.isNaN(clipGradNorm([a, b], 1)));
});
