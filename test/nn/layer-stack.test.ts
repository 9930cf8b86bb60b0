// A layer stack must compute its model's loss: the same value and the same gradients, which the
// pipeline and ZeRO-3 strategies rely on to match single-process training.
import assert from "node:assert/strict";
import test from "node:test";
import { mnist } from "../../src/recipes/mnist.js";
import { TinyGpt, splitTokens, type TokenBatch } from "../../src/models/tiny-gpt.js";
import { layerStackProblem, Linear, manualSeed, ModuleGroup, runLayerStack, type LayerStack, type Module } from "../../src/nn/index.js";
import { Rng } from "../../src/util/rng.js";
import type { LabeledBatch } from "../../src/data/index.js";

function gradients(model: Module): Float32Array[] {
  return model.parameters().map((p) => p.grad!.dense().slice());
}

function sameLossAndGradients<B>(model: Module, stack: LayerStack<B>, batch: B, direct: () => import("../../src/tensor/index.js").Tensor): void {
  model.zeroGrad();
  const a = direct();
  a.backward();
  const ga = gradients(model);
  model.zeroGrad();
  const b = runLayerStack(stack, batch);
  b.backward();
  const gb = gradients(model);
  assert.equal(b.item(), a.item());
  ga.forEach((g, i) => assert.deepEqual(gb[i], g, `gradient ${i} differs`));
}

test("TinyGpt's layer stack is its loss, bit for bit, and covers every parameter", () => {
  manualSeed(1);
  const model = new TinyGpt({ vocab: 20, context: 8, layers: 2, dim: 16, heads: 2 });
  const rng = new Rng(3);
  const batch: TokenBatch = { tokens: Int32Array.from({ length: 4 * 8 }, () => rng.int(20)), targets: Int32Array.from({ length: 4 * 8 }, () => rng.int(20)), batch: 4, time: 8 };
  const stack = model.layerStack();
  assert.equal(layerStackProblem(model, stack), undefined);
  assert.deepEqual(stack.layers.map((l) => l.name), ["embed", "blocks.0", "blocks.1", "head"]);
  sameLossAndGradients(model, stack, batch, () => model.loss(batch));
  const parts = splitTokens(batch, 2);
  assert.deepEqual(parts.map((p) => p.batch), [2, 2]);
  assert.deepEqual([...parts[1]!.tokens], [...batch.tokens.subarray(16)]);
  assert.throws(() => splitTokens(batch, 3), /4 samples cannot be cut into 3 equal micro-batches: choose --micro-batches to divide --batch/);
});

test("the mnist recipe's layer stack is its loss", () => {
  const settings = { ...mnist.defaults, options: { shift: 0, "warmup-steps": 0 } };
  manualSeed(2);
  const model = mnist.model(settings);
  const stack = mnist.layers!(model, settings) as LayerStack<LabeledBatch>;
  assert.equal(layerStackProblem(model, stack), undefined);
  const rng = new Rng(5);
  const batch: LabeledBatch = {
    x: Float32Array.from({ length: 4 * 784 }, () => rng.normal()), xShape: [4, 1, 28, 28],
    y: Int32Array.from([1, 2, 3, 4]), indices: Int32Array.from([0, 1, 2, 3]),
  };
  sameLossAndGradients(model, stack, batch, () => mnist.loss(model, batch));
  assert.deepEqual(stack.split(batch, 2).map((b) => b.xShape), [[2, 1, 28, 28], [2, 1, 28, 28]]);
});

test("layerStackProblem names a parameter in no layer and one in two", () => {
  const a = new Linear(2, 2), b = new Linear(2, 2);
  const model = new ModuleGroup({ a, b });
  const layer = (name: string, module: Module) => ({ name, module, forward: () => { throw new Error("not run"); } });
  const base = { loss: () => { throw new Error("not run"); }, split: () => [], samplesIn: () => 0 };
  assert.match(layerStackProblem(model, { ...base, layers: [layer("a", a)] })!, /parameter\(s\) b\.weight, b\.bias belong to no layer/);
  assert.match(layerStackProblem(model, { ...base, layers: [layer("a", a), layer("again", a), layer("b", b)] })!, /in two layers \(a and again\)/);
});
