// Layers: shapes, parameter naming, state dicts, clear errors on bad input, and gradients of the
// composite layers (attention, transformer block, LSTM) against finite differences.
import assert from "node:assert/strict";
import { test } from "node:test";
import { referenceBackend, setBackend } from "../../src/backend/index.js";
import * as nn from "../../src/nn/index.js";
import * as T from "../../src/tensor/index.js";
import { Rng } from "../../src/util/rng.js";
import { gradcheck, param } from "../tensor/gradcheck.js";

setBackend(referenceBackend);
const rng = new Rng(3);

test("Sequential names parameters by position and state dicts round-trip", () => {
  nn.manualSeed(1);
  const a = new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU(), new nn.Linear(3, 2));
  assert.deepEqual(a.namedParameters().map(([n]) => n), ["0.weight", "0.bias", "2.weight", "2.bias"]);
  assert.equal(a.parameterCount(), 4 * 3 + 3 + 3 * 2 + 2);
  nn.manualSeed(2);
  const b = new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU(), new nn.Linear(3, 2));
  const x = param([5, 4], rng);
  assert.notDeepEqual(a.forward(x).toArray(), b.forward(x).toArray());
  b.loadStateDict(a.stateDict());
  assert.deepEqual(a.forward(x).toArray(), b.forward(x).toArray());
});

test("the same seed builds the same model", () => {
  nn.manualSeed(9);
  const a = new nn.Conv2d(2, 3, 3);
  nn.manualSeed(9);
  const b = new nn.Conv2d(2, 3, 3);
  assert.deepEqual(a.weight.toArray(), b.weight.toArray());
});

test("loadStateDict names the tensor that is missing, unexpected or misshapen", () => {
  const m = new nn.Linear(4, 3);
  const sd = m.stateDict();
  assert.throws(() => m.loadStateDict({ weight: sd.weight! }), /"bias" is missing/);
  assert.throws(() => m.loadStateDict({ ...sd, weight: T.zeros([3, 5]) }), /"weight" has shape \[3, 5\], the model expects \[3, 4\]/);
  assert.throws(() => m.loadStateDict({ ...sd, extra: T.zeros([1]) }), /unexpected tensors extra/);
});

test("layers reject inputs of the wrong shape with the layer and shapes named", () => {
  assert.throws(() => new nn.Linear(4, 3).forward(T.zeros([2, 5])), /Linear\(4 -> 3\): input \[2, 5\] should end in 4/);
  assert.throws(() => new nn.Conv2d(1, 8, 3).forward(T.zeros([2, 3, 8, 8])), /Conv2d\(1 -> 8\): expected input \(N, 1, H, W\), got \[2, 3, 8, 8\]/);
  assert.throws(() => T.add(T.zeros([2, 3]), T.zeros([4])), /add: shapes \[2, 3\] and \[4\] do not broadcast/);
  assert.throws(() => T.matmul(T.zeros([2, 3]), T.zeros([4, 2])), /inner sizes 3 and 4 differ/);
});

test("Linear computes x W^T + b", () => {
  const m = new nn.Linear(3, 2);
  const x = T.tensor([1, 2, 3], [1, 3]);
  const w = m.weight.toArray(), b = m.bias!.toArray();
  const expected = [0, 1].map((o) => w[o * 3]! * 1 + w[o * 3 + 1]! * 2 + w[o * 3 + 2]! * 3 + b[o]!);
  m.forward(x).toArray().forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-6));
});

test("causal attention: no position sees the future", () => {
  const attn = new nn.CausalSelfAttention(8, 2);
  const x = param([1, 5, 8], rng);
  const y1 = attn.forward(x).toArray();
  const x2 = T.tensor(x.toArray(), [1, 5, 8]);
  for (let i = 3 * 8; i < 5 * 8; i++) x2.data[i] = x2.data[i]! + 10; // change positions 3 and 4 only
  const y2 = attn.forward(x2).toArray();
  for (let i = 0; i < 3 * 8; i++) assert.ok(Math.abs(y1[i]! - y2[i]!) < 1e-6, `position ${Math.floor(i / 8)} changed`);
  assert.ok(y1.slice(3 * 8).some((v, i) => Math.abs(v - y2[3 * 8 + i]!) > 1e-3));
});

test("gradients through attention, a transformer block and an LSTM", () => {
  const attn = new nn.CausalSelfAttention(4, 2);
  gradcheck("attention", (x) => attn.forward(x), [param([2, 3, 4], rng)], { tolerance: 3e-2 });
  const block = new nn.TransformerBlock(4, 2);
  gradcheck("transformer block", (x) => block.forward(x), [param([1, 3, 4], rng)], { tolerance: 4e-2 });
  const lstm = new nn.LSTM(3, 2);
  gradcheck("lstm input", (x) => lstm.forward(x), [param([2, 4, 3], rng)]);
  gradcheck("lstm weights", (w) => { void w; return lstm.forward(T.tensor(Array.from({ length: 12 }, (_, i) => Math.sin(i)), [1, 4, 3])); }, [lstm.weightHh]);
});

test("BatchNorm uses batch statistics in training and running statistics in eval", () => {
  const bn = new nn.BatchNorm(2);
  const x = param([8, 2, 3], rng);
  const y = bn.forward(x).toArray();
  const m0 = y.filter((_, i) => Math.floor(i / 3) % 2 === 0).reduce((s, v) => s + v, 0) / 24;
  assert.ok(Math.abs(m0) < 1e-5, "training output is centred per channel");
  assert.ok(bn.runningMean.toArray().some((v) => v !== 0), "running mean moved");
  bn.eval();
  const before = bn.runningMean.toArray();
  bn.forward(x);
  assert.deepEqual(bn.runningMean.toArray(), before, "eval leaves running statistics alone");
});

test("Dropout is the identity in eval and scales kept values in training", () => {
  const d = new nn.Dropout(0.5);
  const x = T.ones([1000]);
  const y = d.forward(x).toArray();
  const kept = y.filter((v) => v !== 0);
  assert.ok(kept.every((v) => v === 2));
  assert.ok(kept.length > 400 && kept.length < 600);
  d.eval();
  assert.equal(d.forward(x), x);
});

test("gradient-ready hooks fire once per parameter, after its gradient is complete", () => {
  const m = new nn.Sequential(new nn.Linear(3, 3), new nn.ReLU(), new nn.Linear(3, 1));
  const seen: string[] = [];
  for (const [name, p] of m.namedParameters()) p.onGradReady((t) => { assert.ok(t.grad); seen.push(name); });
  // The first layer's weight is used twice (shared), so its hook must wait for both uses.
  const x = param([4, 3], rng);
  const h = m.layers[0]!.forward(x);
  T.sum(T.add(m.forward(x), T.sum(h, 1, true))).backward();
  assert.deepEqual([...seen].sort(), ["0.bias", "0.weight", "2.bias", "2.weight"]);
  assert.equal(seen.length, 4);
  assert.equal(seen.indexOf("2.weight") < seen.indexOf("0.weight"), true, "later layers are ready first");
});

test("ReLU then MaxPool2d in a Sequential gives exactly the values and gradients of doing them in order", () => {
  const fused = new nn.Sequential(new nn.ReLU(), new nn.MaxPool2d({ kernel: 2 }));
  const x1 = param([2, 3, 6, 6], rng);
  for (let i = 0; i < 10; i++) x1.data[i] = 0; // zeros sit on ReLU's kink
  const x2 = T.tensor(x1.toArray(), x1.shape, { requiresGrad: true });
  const g = T.randn([2, 3, 3, 3], rng);
  const a = fused.forward(x1);
  const b = T.maxPool2d(T.relu(x2), { kernel: 2 });
  assert.deepEqual(a.toArray(), b.toArray());
  a.backward(g);
  b.backward(g);
  assert.deepEqual(x1.grad!.toArray(), x2.grad!.toArray());
});
