// Optional cross-check with the reference implementation (Hugging Face `safetensors` with PyTorch).
// It runs only where /usr/bin/python3 can import both; elsewhere it is skipped with the reason.
// The required conformance check is the independent reader in ./safetensors.test.ts.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadCheckpoint, saveCheckpoint } from "../../src/checkpoint/checkpoint-file.js";
import { bf16ToF32 } from "../../src/checkpoint/half-float.js";

const PYTHON = "/usr/bin/python3";
// Importing torch takes seconds, many more on a loaded machine: the limit only stops a hung python.
const PYTHON_TIMEOUT_MS = 300_000;

function python(script: string, ...args: string[]): string {
  const run = spawnSync(PYTHON, ["-c", script, ...args], { encoding: "utf8", timeout: PYTHON_TIMEOUT_MS });
  if (run.status !== 0) throw new Error(`python failed (${run.status}): ${run.stderr}`);
  return run.stdout;
}

function unavailable(): string | false {
  // safetensors first: where it is missing the probe fails before paying for importing torch.
  const probe = spawnSync(PYTHON, ["-c", "import safetensors, torch"], { encoding: "utf8", timeout: PYTHON_TIMEOUT_MS });
  if (probe.error) return `${PYTHON} not runnable (${probe.error.message})`;
  if (probe.status !== 0) return `${PYTHON} cannot import torch and safetensors; install them to run this cross-check`;
  return false;
}

const skip = unavailable();

test("PyTorch's safetensors reads Weft files and Weft reads its files", { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "weft-py-"));
  try {
    const weftPath = join(dir, "weft.safetensors");
    await saveCheckpoint(
      weftPath,
      {
        w: { dtype: "F32", shape: [2, 2], data: new Float32Array([1.5, -2, 0.1, 1e-3]) },
        h: { dtype: "BF16", shape: [2], data: new Uint16Array([0x3f80, 0xc049]) },
        n: { dtype: "I64", shape: [1], data: new BigInt64Array([-5n]) },
      },
      { "weft.step": "12" },
    );
    const seen = JSON.parse(
      python(
        `import json, sys
from safetensors import safe_open
with safe_open(sys.argv[1], "pt") as f:
    out = {"meta": f.metadata(), "t": {k: {"dtype": str(f.get_tensor(k).dtype), "shape": list(f.get_tensor(k).shape),
           "values": f.get_tensor(k).float().flatten().tolist()} for k in f.keys()}}
print(json.dumps(out))`,
        weftPath,
      ),
    ) as { meta: Record<string, string>; t: Record<string, { dtype: string; shape: number[]; values: number[] }> };
    assert.equal(seen.meta["weft.step"], "12");
    assert.deepEqual(seen.t.w, { dtype: "torch.float32", shape: [2, 2], values: [...new Float32Array([1.5, -2, 0.1, 1e-3])] });
    assert.deepEqual(seen.t.h, { dtype: "torch.bfloat16", shape: [2], values: [1, -3.140625] });
    assert.deepEqual(seen.t.n, { dtype: "torch.int64", shape: [1], values: [-5] });

    const torchPath = join(dir, "torch.safetensors");
    python(
      `import sys, torch
from safetensors.torch import save_file
save_file({"a": torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4, "b": torch.tensor([7, -8], dtype=torch.int32),
           "c": torch.tensor([0.5, 3.0], dtype=torch.bfloat16)}, sys.argv[1], metadata={"format": "pt"})`,
      torchPath,
    );
    const loaded = await loadCheckpoint(torchPath);
    assert.equal(loaded.metadata.format, "pt");
    assert.deepEqual(loaded.tensors.a.shape, [2, 3]);
    assert.deepEqual(loaded.tensors.a.data, new Float32Array([0, 0.25, 0.5, 0.75, 1, 1.25]));
    assert.deepEqual(loaded.tensors.b.data, new Int32Array([7, -8]));
    assert.deepEqual([...bf16ToF32(loaded.tensors.c.data as Uint16Array)], [0.5, 3]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
