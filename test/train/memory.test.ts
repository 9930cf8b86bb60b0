// Memory accounting (src/train/memory.ts, memory-plan.ts): a known model's numbers through fit()
// equal the hand count, and the plans say which strategies fit.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Linear } from "../../src/nn/index.js";
import { Adam, SGD } from "../../src/optim/index.js";
import { mseLoss, tensor } from "../../src/tensor/index.js";
import { fit } from "../../src/train/fit.js";
import { formatBytes, MemoryLimitError, modelMemoryFacts, replicatedMemory } from "../../src/train/memory.js";
import { fitAdvice, planRefusal, replicaPlan, strategiesThatFit } from "../../src/train/memory-plan.js";
import { STRATEGIES, findStrategy } from "../../src/train/strategies.js";

const F = 4;

/** Linear(3 -> 2) on batches of 5: y = x W^T + b is one GEMM with the bias in its epilogue (5x2); the loss is sub (5x2), square (5x2), and mean: a sum (1) then a scale (1). */
function linearRun(maxMemory?: number) {
  const model = new Linear(3, 2);
  const optimizer = new Adam(model.parameters(), { lr: 0.01 });
  const batch = { x: tensor(Array.from({ length: 15 }, (_, i) => i / 15), [5, 3]), y: tensor(new Array(10).fill(0.5), [5, 2]) };
  return fit({
    model, optimizer, epochs: 3, data: { batchesPerEpoch: 1, async *epoch() { yield batch; } },
    loss: (m, b) => mseLoss(m.forward(b.x), b.y), samplesIn: () => 5,
    ...(maxMemory === undefined ? {} : { maxMemory: { bytes: maxMemory } }),
  });
}

test("a linear layer's memory through fit() is the hand count", async () => {
  const { memory } = await linearRun();
  const params = 3 * 2 + 2;
  assert.equal(memory.parameters, params * F);
  assert.equal(memory.gradients, params * F);
  assert.equal(memory.optimizer, 2 * params * F, "Adam: exp_avg and exp_avg_sq");
  assert.equal(memory.activations_peak, (10 + 10 + 10 + 1 + 1) * F, "linear, sub, square, sum, scale");
  assert.ok(memory.rss > 0);
});

test("replicatedMemory counts gradients and optimizer state only once they exist", () => {
  const model = new Linear(4, 3);
  const sgd = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  assert.deepEqual(replicatedMemory(model, sgd), { parameters: 15 * F, gradients: 0, optimizer: 0 });
  mseLoss(model.forward(tensor([1, 2, 3, 4], [1, 4])), tensor([0, 0, 0], [1, 3])).backward();
  sgd.step();
  assert.deepEqual(replicatedMemory(model, sgd), { parameters: 15 * F, gradients: 15 * F, optimizer: 15 * F });
  assert.deepEqual(modelMemoryFacts(model, sgd), { parameterBytes: 15 * F, optimizerBytes: 15 * F });
});

test("fit fails after the first step when the measured total is over the limit, naming the numbers", async () => {
  const total = (8 + 8 + 16 + 32) * F; // parameters, gradients, Adam state, activations
  await assert.rejects(linearRun(total - 1), (err: unknown) => {
    assert.ok(err instanceof MemoryLimitError);
    assert.match(err.message, new RegExp(`held ${formatBytes(total)} at step 1 \\(parameters 32 bytes, gradients 32 bytes, optimizer 64 bytes, activations 128 bytes at their peak`));
    return true;
  });
  const { steps } = await linearRun(total);
  assert.equal(steps, 3, "exactly at the limit fits");
});

test("plans: a replica holds everything; the refusal names each strategy that fits", () => {
  const facts = { parameterBytes: 100e6, optimizerBytes: 200e6 };
  assert.deepEqual(replicaPlan(facts), { parameters: 100e6, gradients: 100e6, optimizer: 200e6 });
  const ddp = findStrategy("ddp")!;
  assert.equal(planRefusal(STRATEGIES, ddp, {}, facts, 4, 400e6), undefined, "400 MB fits a 400 MB limit");
  const refusal = planRefusal(STRATEGIES, ddp, {}, facts, 4, 250e6)!;
  assert.match(refusal, /^ddp needs 400 MB \(parameters 100 MB, gradients 100 MB, optimizer 200 MB, before activations\); /);
  const fits = strategiesThatFit(STRATEGIES, facts, 4, 250e6, 0, { name: "ddp", options: {} });
  assert.ok(fits.some((f) => f.spelled === "ps"), "a parameter-server worker holds no optimizer state: 200 MB");
  assert.ok(fits.every((f) => f.plan.parameters + f.plan.gradients + f.plan.optimizer <= 250e6));
  assert.ok(!fits.some((f) => ["ddp", "single", "gossip", "local-sgd"].includes(f.spelled.split(" ")[0]!)), "full replicas do not fit");
  assert.ok(refusal.endsWith(`${fitAdvice(fits, undefined, 4, 0)}`));
  assert.match(planRefusal(STRATEGIES, ddp, {}, facts, 4, 1)!, /no strategy fits on 4 workers \(the least is .* with .*\): raise the limit, or use more workers$/);
});
