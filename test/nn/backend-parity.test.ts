// Whole models agree across backends: the MNIST CNN and a small GPT compute the same loss and
// the same gradients on the native backend as on the reference backend.
import assert from "node:assert/strict";
import { test } from "node:test";
import { nativeBackend, referenceBackend, setBackend, type Backend } from "../../src/backend/index.js";
import { mnistCnn } from "../../src/models/mnist-cnn.js";
import { TinyGpt } from "../../src/models/tiny-gpt.js";
import { manualSeed, type Module } from "../../src/nn/index.js";
import { crossEntropy, randn, reshape, type Tensor } from "../../src/tensor/index.js";
import { Rng } from "../../src/util/rng.js";

const skip = nativeBackend ? false : "the native addon is not built";
if (!nativeBackend && process.env.WEFT_REQUIRE_NATIVE === "1") throw new Error("the native backend is required but did not load");

/** Loss and every parameter's gradient, computed on backend `b`. */
function lossAndGrads(b: Backend, build: () => Module, loss: (m: Module) => Tensor): { loss: number; grads: Map<string, number[]> } {
  const previous = setBackend(b);
  try {
    manualSeed(4);
    const model = build();
    const l = loss(model);
    l.backward();
    return { loss: l.item(), grads: new Map(model.namedParameters().map(([n, p]) => [n, p.grad!.toArray()])) };
  } finally {
    setBackend(previous);
  }
}

function assertClose(a: ReturnType<typeof lossAndGrads>, b: ReturnType<typeof lossAndGrads>): void {
  assert.ok(Math.abs(a.loss - b.loss) < 1e-4 * Math.max(1, Math.abs(a.loss)), `loss ${a.loss} vs ${b.loss}`);
  for (const [name, ga] of a.grads) {
    const gb = b.grads.get(name)!;
    let scale = 1e-6, worst = 0;
    ga.forEach((v, i) => {
      scale = Math.max(scale, Math.abs(v));
      worst = Math.max(worst, Math.abs(v - gb[i]!));
    });
    assert.ok(worst <= 2e-4 * scale, `${name}: gradients differ by ${worst} (largest ${scale})`);
  }
}

test("MNIST CNN: native and reference agree on loss and gradients", { skip }, () => {
  const x = randn([3, 1, 28, 28], new Rng(1));
  const y = Int32Array.from([3, 1, 7]);
  const run = (b: Backend) => lossAndGrads(b, mnistCnn, (m) => crossEntropy(m.forward(x), y));
  assertClose(run(referenceBackend), run(nativeBackend!));
});

test("tiny GPT: native and reference agree on loss and gradients", { skip }, () => {
  const config = { vocab: 11, context: 8, layers: 2, dim: 16, heads: 2 };
  const rng = new Rng(2);
  const tokens = Int32Array.from({ length: 2 * 8 }, () => rng.int(11));
  const targets = Int32Array.from({ length: 2 * 8 }, () => rng.int(11));
  const run = (b: Backend) =>
    lossAndGrads(b, () => new TinyGpt(config), (m) => crossEntropy(reshape((m as TinyGpt).logits(tokens, 2, 8), [-1, 11]), targets));
  assertClose(run(referenceBackend), run(nativeBackend!));
});
