// Files on disk: atomic replacement, survival of a crash mid-write, and expectTensor's checks.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { CheckpointError } from "../../src/checkpoint/checkpoint-error.js";
import { loadCheckpoint, saveCheckpoint } from "../../src/checkpoint/checkpoint-file.js";
import { expectTensor } from "../../src/checkpoint/expect-tensor.js";
import type { NamedArray } from "../../src/checkpoint/named-array.js";
import { encodeSafetensors } from "../../src/checkpoint/safetensors-encode.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "weft-checkpoint-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function model(scale: number): Record<string, NamedArray> {
  return {
    "fc.weight": { dtype: "F32", shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6].map((v) => v * scale)) },
    "fc.bias": { dtype: "F32", shape: [2], data: new Float32Array([scale, -scale]) },
    // Optimizer state rides along under "optim.<param>.<state>" (Note [checkpoint metadata keys]).
    "optim.fc.weight.exp_avg": { dtype: "F32", shape: [2, 3], data: new Float32Array(6).fill(0.25 * scale) },
    "optim.step": { dtype: "I64", shape: [], data: new BigInt64Array([BigInt(scale)]) },
  };
}

test("saveCheckpoint writes exactly the encoded file and loadCheckpoint reads it back", async () => {
  const path = join(dir, "a.safetensors");
  const metadata = { "weft.step": "3", "weft.config": '{"width":3}' };
  await saveCheckpoint(path, model(1), metadata);
  assert.deepEqual(await readFile(path), encodeSafetensors(model(1), metadata));
  const loaded = await loadCheckpoint(path);
  assert.equal(loaded.source, path);
  assert.equal(loaded.metadata["weft.step"], "3");
  assert.deepEqual(loaded.tensors["optim.fc.weight.exp_avg"].data, new Float32Array(6).fill(0.25));
  assert.deepEqual(loaded.tensors["optim.step"].data, new BigInt64Array([1n]));
});

test("saving over an existing checkpoint replaces it and leaves no temporary files", async () => {
  const sub = await mkdtemp(join(dir, "replace-"));
  const path = join(sub, "model.safetensors");
  await saveCheckpoint(path, model(1), { "weft.step": "1" });
  await saveCheckpoint(path, model(2), { "weft.step": "2" });
  assert.deepEqual(await readdir(sub), ["model.safetensors"]);
  const loaded = await loadCheckpoint(path);
  assert.equal(loaded.metadata["weft.step"], "2");
  assert.deepEqual(loaded.tensors["fc.bias"].data, new Float32Array([2, -2]));
});

test("a save whose final rename fails removes its temporary file and touches nothing else", async () => {
  const sub = await mkdtemp(join(dir, "failed-"));
  const neighbour = join(sub, "model.safetensors");
  await saveCheckpoint(neighbour, model(1), {});
  const neighbourBytes = await readFile(neighbour);
  // A non-empty directory under the target name: the temporary file is written, the rename fails.
  const blocked = join(sub, "blocked.safetensors");
  await mkdir(join(blocked, "not-empty"), { recursive: true });
  await assert.rejects(saveCheckpoint(blocked, model(2), {}));
  assert.deepEqual((await readdir(sub)).sort(), ["blocked.safetensors", "model.safetensors"]);
  assert.deepEqual(await readFile(neighbour), neighbourBytes);
});

test("a process killed while saving leaves a complete checkpoint under the real name", async () => {
  const sub = await mkdtemp(join(dir, "crash-"));
  const path = join(sub, "model.safetensors");
  await saveCheckpoint(path, { w: { dtype: "F32", shape: [1], data: new Float32Array([0]) } }, { "weft.step": "0" });
  const child = fileURLToPath(new URL("./fixtures/save-forever.js", import.meta.url));
  for (const delayMs of [0, 5, 15, 30, 60, 100]) {
    const proc = spawn(process.execPath, [child, path], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve) => proc.stdout.once("data", () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    proc.kill("SIGKILL");
    await new Promise((resolve) => proc.once("exit", resolve));
    // Whatever moment the kill hit, the file is one whole checkpoint: digests pass and the data
    // is the one its step says.
    const loaded = await loadCheckpoint(path);
    const step = Number(loaded.metadata["weft.step"]);
    assert.ok(step >= 1, `step ${step}`);
    const values = loaded.tensors.w.data as Float32Array;
    assert.equal(values.length, 1 << 20);
    assert.ok(values.every((v) => v === step), `tensor data disagrees with step ${step}`);
  }
  // Leftovers of interrupted writes are hidden temporary files, never the real name.
  for (const name of await readdir(sub)) assert.match(name, /^(model\.safetensors|\.model\.safetensors\.tmp-\d+-[0-9a-f]{8})$/);
});

test("saving into a missing directory says which directory to create", async () => {
  const path = join(dir, "no-such-dir", "a.safetensors");
  await assert.rejects(saveCheckpoint(path, model(1), {}), (error: unknown) => {
    assert.match((error as Error).message, /^cannot save checkpoint .*a\.safetensors \(\d+ bytes\): the directory .*no-such-dir does not exist: create it first$/);
    return true;
  });
});

test("loading a missing file says so and names it", async () => {
  const path = join(dir, "nope.safetensors");
  await assert.rejects(loadCheckpoint(path), (error: unknown) => {
    assert.ok(error instanceof CheckpointError);
    assert.equal(error.message, `cannot load checkpoint ${path}: no such file: check the path`);
    return true;
  });
});

test("expectTensor returns a matching tensor and explains a missing one, a wrong dtype and a wrong shape", async () => {
  const path = join(dir, "expect.safetensors");
  await saveCheckpoint(path, model(1), {});
  const ckpt = await loadCheckpoint(path);
  assert.deepEqual(expectTensor(ckpt, "fc.bias", "F32", [2]).data, new Float32Array([1, -1]));

  const refusal = (fn: () => unknown, tensor: string, pattern: RegExp): void => {
    assert.throws(fn, (error: unknown) => {
      assert.ok(error instanceof CheckpointError);
      assert.equal(error.tensor, tensor);
      assert.equal(error.source, path);
      assert.match(error.message, pattern);
      return true;
    });
  };
  refusal(
    () => expectTensor(ckpt, "fc2.weight", "F32", [2, 3]),
    "fc2.weight",
    /checkpoint .*expect\.safetensors has no tensor "fc2\.weight"; it has 4: .*fc\.weight.*; .*configuration it was saved with \(metadata weft\.config\)/,
  );
  refusal(
    () => expectTensor(ckpt, "fc.weight", "BF16", [2, 3]),
    "fc.weight",
    /tensor "fc\.weight" in checkpoint .* is F32, expected BF16/,
  );
  refusal(
    () => expectTensor(ckpt, "fc.weight", "F32", [3, 2]),
    "fc.weight",
    /tensor "fc\.weight" in checkpoint .* has shape \[2, 3\], expected \[3, 2\]/,
  );
});
