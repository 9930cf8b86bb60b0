// fit() with a checkpoint folder: the last K checkpoints kept, a killed save's temporary file never
// read and removed at the next start with one line, a damaged newest checkpoint skipped with a
// warning naming it, none verifying refused, a fresh run refused in a used folder, and the writes
// on their own thread with the last one durable when fit() returns.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Linear, manualSeed } from "../../src/nn/index.js";
import { Adam } from "../../src/optim/index.js";
import { fit, type FitOptions } from "../../src/train/fit.js";
import { mseLoss, tensor } from "../../src/tensor/index.js";

/** A tiny run: y = 2x on 4 batches per epoch; `steps` steps; its warnings collected. */
function run(dir: string, steps: number, extra: Partial<FitOptions<number>> = {}) {
  manualSeed(0);
  const model = new Linear(1, 1);
  const warnings: string[] = [];
  const data = { batchesPerEpoch: 4, async *epoch(_e: number, from = 0) { for (let i = from; i < 4; i++) yield i; } };
  const done = fit({
    model, optimizer: new Adam(model.parameters(), { lr: 0.1 }), data, epochs: 10, maxSteps: steps,
    loss: (m, i) => mseLoss(m.forward(tensor([i], [1, 1])), tensor([2 * i], [1, 1])), samplesIn: () => 1,
    checkpoint: { dir, everySteps: 2, keep: 2 }, onWarning: (line) => warnings.push(line), ...extra,
  });
  return { model, warnings, done };
}

const files = (dir: string) => readdirSync(dir).sort();
const weights = (m: Linear) => m.parameters().map((p) => [...p.dense()]);

test("a checkpoint folder keeps the last K, and a resume continues from the newest exactly", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-ckpt-dir-"));
  try {
    const whole = run(join(dir, "whole"), 10);
    await whole.done;
    assert.deepEqual(files(join(dir, "whole")), ["step-10.safetensors", "step-8.safetensors"], "keep 2: the last two, nothing else");

    const part = join(dir, "part");
    const first = run(part, 7);
    const r1 = await first.done;
    assert.equal(r1.resumed_from_step, undefined);
    assert.deepEqual(files(part), ["step-6.safetensors", "step-7.safetensors"]);
    const second = run(part, 10, { resumeFrom: part });
    const r2 = await second.done;
    assert.equal(r2.resumed_from_step, 7);
    assert.equal(r2.steps, 3);
    assert.deepEqual(weights(second.model), weights(whole.model));
    assert.deepEqual(second.warnings, []);
    // A fresh run in a folder that holds a run's checkpoints is refused: a later resume could pick them up.
    await assert.rejects(run(part, 10).done, /already holds checkpoints of a run .*step-10\.safetensors.*; resume from it, or write to an empty folder/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a killed save's temporary file is never read and is removed at the next start, in one line", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-ckpt-tmp-"));
  try {
    await run(dir, 4).done;
    // What a SIGKILL between write and rename leaves: a hidden, unfinished step-6 beside the real files.
    const stale = join(dir, ".step-6.safetensors.tmp-4242-0a1b2c3d");
    writeFileSync(stale, readFileSync(join(dir, "step-4.safetensors")).subarray(0, 100));
    const bytes = statSync(stale).size;
    const resumed = run(dir, 6, { resumeFrom: dir });
    const r = await resumed.done;
    assert.equal(r.resumed_from_step, 4, "the temporary file is not a checkpoint");
    assert.deepEqual(resumed.warnings, [`removed 1 temporary checkpoint file(s) left by interrupted saves in ${dir}: ${bytes} bytes`]);
    assert.deepEqual(files(dir), ["step-4.safetensors", "step-6.safetensors"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a damaged newest checkpoint is named in a warning and the one before it is used; none verifying is one line", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-ckpt-bad-"));
  try {
    const whole = run(join(dir, "whole"), 8);
    await whole.done;
    const part = join(dir, "part");
    await run(part, 6).done; // step-4 and step-6
    const flip = (name: string) => {
      const path = join(part, name);
      const bytes = readFileSync(path);
      bytes[bytes.length - 3]! ^= 0x10; // one bit of the last tensor's data
      writeFileSync(path, bytes);
    };
    flip("step-6.safetensors");
    const resumed = run(part, 8, { resumeFrom: part });
    const r = await resumed.done;
    assert.equal(r.resumed_from_step, 4);
    assert.equal(resumed.warnings.length, 1);
    assert.match(resumed.warnings[0]!, /^checkpoint .*step-6\.safetensors is damaged, resuming from step-4\.safetensors instead: .*(sha256|checksum|digest)/i);
    assert.deepEqual(weights(resumed.model), weights(whole.model), "from step 4 the run still ends where the uninterrupted one does");

    flip("step-8.safetensors");
    flip("step-6.safetensors"); // step-6 was rewritten by the resumed run: damage it again
    const none = run(part, 8, { resumeFrom: part, checkpoint: { dir: part, keep: 1 } });
    await assert.rejects(none.done, (e: Error) => {
      assert.match(e.message, /^cannot resume: no checkpoint in .*part verifies \(step-8\.safetensors: .*; step-6\.safetensors: .*\); start without resuming$/);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
    await assert.rejects(run(join(dir, "empty"), 8, { resumeFrom: mkdtempSync(join(dir, "empty-")) }).done, /cannot resume: .* holds no checkpoint/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
