// A training checkpoint restores the model and Adam's state exactly: training on from the file
// gives the same parameters as training on without stopping; a mismatched model is refused.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { referenceBackend, setBackend } from "../../src/backend/index.js";
import { Linear, manualSeed, ReLU, Sequential } from "../../src/nn/index.js";
import { Adam } from "../../src/optim/index.js";
import { mseLoss, tensor } from "../../src/tensor/index.js";
import { loadTrainingCheckpoint, saveTrainingCheckpoint } from "../../src/train/training-checkpoint.js";

setBackend(referenceBackend);

const x = tensor([0.1, 0.2, -0.3, 0.4, 0.5, -0.6], [3, 2]);
const y = tensor([1, 0, -1], [3, 1]);
function setup(seed: number) {
  manualSeed(seed);
  const model = new Sequential(new Linear(2, 4), new ReLU(), new Linear(4, 1));
  return { model, optimizer: new Adam(model.parameters(), { lr: 0.01 }) };
}
function train(s: ReturnType<typeof setup>, steps: number) {
  for (let i = 0; i < steps; i++) {
    s.optimizer.zeroGrad();
    mseLoss(s.model.forward(x), y).backward();
    s.optimizer.step();
  }
}

test("resuming from a checkpoint continues exactly where training stopped", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-ckpt-"));
  try {
    const a = setup(1);
    train(a, 5);
    await saveTrainingCheckpoint(join(dir, "run.safetensors"), a, 5, { lr: 0.01 });
    train(a, 5);
    const b = setup(2);
    const { step, config } = await loadTrainingCheckpoint(join(dir, "run.safetensors"), b);
    assert.equal(step, 5);
    assert.deepEqual(config, { lr: 0.01 });
    train(b, 5);
    for (const [[name, pa], [, pb]] of a.model.namedParameters().map((e, i) => [e, b.model.namedParameters()[i]!] as const)) {
      assert.deepEqual(pb.toArray(), pa.toArray(), name);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a checkpoint of another model is refused, naming the tensor, and changes nothing", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-ckpt-"));
  try {
    const a = setup(1);
    await saveTrainingCheckpoint(join(dir, "run.safetensors"), a, 0, {});
    manualSeed(3);
    const other = new Sequential(new Linear(2, 5), new ReLU(), new Linear(5, 1));
    const before = other.parameters().map((p) => p.toArray());
    await assert.rejects(loadTrainingCheckpoint(join(dir, "run.safetensors"), { model: other }), /"0\.weight".*shape \[4, 2\], expected \[5, 2\]/);
    assert.deepEqual(other.parameters().map((p) => p.toArray()), before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
