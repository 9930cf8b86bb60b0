// CausalSelfAttention runs on the fused attention kernels, and a GPT built on it computes what
// it computed when attention was composed of matmul, mask, softmax and matmul: the same loss and
// gradients, and the same training steps.
//
// Tolerance: the two paths round differently (see test/tensor/attention.test.ts), by a few
// float32 ulps per attention output. Carried through two blocks, that is a few ulps of the loss
// and some 1e-6 of a parameter's largest gradient (5e-7 measured): the test allows 1e-6 of the
// loss and 2e-5 of each gradient. AdamW's steps scale those gradient differences by lr, so the
// losses of five steps get the loss's 1e-6 each.
import assert from "node:assert/strict";
import { test } from "node:test";
import { backend, setBackend } from "../../src/backend/index.js";
import { KernelProfile } from "../../src/backend/profile.js";
import { TinyGpt, type TokenBatch } from "../../src/models/tiny-gpt.js";
import { CausalSelfAttention, causalMask, manualSeed } from "../../src/nn/index.js";
import { AdamW } from "../../src/optim/index.js";
import { add, matmul, permute, randn, reshape, softmax, split, transpose, type Tensor } from "../../src/tensor/index.js";
import { Rng } from "../../src/util/rng.js";

/** CausalSelfAttention.forward as it was before the fused kernels: attention op by op. */
function composedForward(this: CausalSelfAttention, x: Tensor, options: { residual?: Tensor } = {}): Tensor {
  const [b, t, d] = x.shape as [number, number, number];
  const hs = d / this.heads;
  const [q, k, v] = split(this.qkv.forward(x), [d, d, d], 2).map((z) =>
    permute(reshape(z, [b, t, this.heads, hs]), [0, 2, 1, 3]),
  ) as [Tensor, Tensor, Tensor];
  const y = matmul(softmax(add(matmul(q, transpose(k), 1 / Math.sqrt(hs)), causalMask(t))), v);
  return this.proj.forward(reshape(transpose(y, 1, 2), [b, t, d]), options);
}

/** Runs `body` with every CausalSelfAttention composed instead of fused. */
function composed<T>(body: () => T): T {
  const fused = Object.getOwnPropertyDescriptor(CausalSelfAttention.prototype, "forward")!;
  Object.defineProperty(CausalSelfAttention.prototype, "forward", { ...fused, value: composedForward });
  try {
    return body();
  } finally {
    Object.defineProperty(CausalSelfAttention.prototype, "forward", fused);
  }
}

const config = { vocab: 17, context: 19, layers: 2, dim: 24, heads: 3 };

function batch(seed: number): TokenBatch {
  const rng = new Rng(seed);
  const n = 3 * config.context;
  return {
    tokens: Int32Array.from({ length: n }, () => rng.int(config.vocab)),
    targets: Int32Array.from({ length: n }, () => rng.int(config.vocab)),
    batch: 3, time: config.context,
  };
}

function lossAndGrads(): { loss: number; grads: [string, number[]][] } {
  manualSeed(11);
  const model = new TinyGpt(config);
  const loss = model.loss(batch(12));
  loss.backward();
  return { loss: loss.item(), grads: model.namedParameters().map(([n, p]) => [n, p.grad!.toArray()]) };
}

function trainLosses(steps: number): number[] {
  manualSeed(13);
  const model = new TinyGpt(config);
  const opt = new AdamW(model.parameters(), { lr: 3e-3 });
  const b = batch(14);
  return Array.from({ length: steps }, () => {
    opt.zeroGrad();
    const loss = model.loss(b);
    loss.backward();
    opt.step();
    return loss.item();
  });
}

test("CausalSelfAttention runs one fused attention kernel each way, and no softmax", () => {
  const profile = new KernelProfile();
  const previous = setBackend(profile.wrap(backend()));
  try {
    manualSeed(1);
    const attn = new CausalSelfAttention(12, 3);
    const rng = new Rng(2);
    const x = randn([2, 5, 12], rng, 1, { requiresGrad: true });
    attn.forward(x).backward(randn([2, 5, 12], rng));
  } finally {
    setBackend(previous);
  }
  const calls = new Map(profile.report().map((k) => [k.kernel, k.calls]));
  assert.equal(calls.get("attention"), 1);
  assert.equal(calls.get("attentionBackward"), 1);
  assert.equal(calls.has("softmax"), false);
});

test("the GPT's loss and gradients with fused attention equal the composed attention's", () => {
  const fused = lossAndGrads();
  const reference = composed(lossAndGrads);
  assert.ok(Math.abs(fused.loss - reference.loss) <= 1e-6 * Math.abs(reference.loss), `loss ${fused.loss}, composed ${reference.loss}`);
  for (const [i, [name, g]] of fused.grads.entries()) {
    const r = reference.grads[i]![1];
    const largest = Math.max(...r.map(Math.abs));
    const worst = Math.max(...g.map((v, j) => Math.abs(v - r[j]!)));
    assert.ok(worst <= 2e-5 * largest, `${name}: gradients differ by ${worst} (largest ${largest})`);
  }
});

test("training the GPT with fused attention takes the composed attention's steps, loss falling", () => {
  const fused = trainLosses(5);
  const reference = composed(() => trainLosses(5));
  fused.forEach((l, i) => assert.ok(Math.abs(l - reference[i]!) <= 1e-6 * reference[i]!, `step ${i}: loss ${l}, composed ${reference[i]}`));
  assert.ok(fused[4]! < fused[0]! - 0.05, `loss fell from ${fused[0]} to ${fused[4]}`);
});
