// `weft train` reports each worker's memory in its --json line, and --max-memory refuses a run
// that cannot fit before it starts (src/cli/train-memory.ts). The runs train mnist's `--net small`
// (the PyTorch peer's network), whose parameters are counted by hand below.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { mnistCnn } from "../../src/models/mnist-cnn.js";
import { parseByteSize } from "../../src/cli/train-memory.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");
const weftRun = (args: string[]) => spawnSync(process.execPath, [weft, ...args], { cwd: root, encoding: "utf8", timeout: 120_000 });

// conv1 32*1*9+32, conv2 64*32*9+64, fc1 1600*128+128, fc2 128*10+10
const MNIST_CNN_PARAMS = 320 + 18_496 + 204_928 + 1_290;

test("the MNIST CNN has the parameters the hand count says", () => {
  assert.equal(mnistCnn().parameters().reduce((n, p) => n + p.size, 0), MNIST_CNN_PARAMS);
});

test("weft train mnist --workers 2 --json carries each field of memory: parameters 4 bytes each, Adam's state twice that", () => {
  const run = weftRun(["train", "mnist", "--net", "small", "--workers", "2", "--max-steps", "2", "--json"]);
  assert.equal(run.status, 0, run.stderr);
  const line = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as { memory: Record<string, number> };
  assert.deepEqual(Object.keys(line.memory).sort(), ["activations_peak", "gradients", "optimizer", "parameters", "rss"]);
  assert.equal(line.memory.parameters, 4 * MNIST_CNN_PARAMS);
  assert.equal(line.memory.gradients, 4 * MNIST_CNN_PARAMS);
  assert.equal(line.memory.optimizer, 8 * MNIST_CNN_PARAMS);
  // Batch 64: conv1's output alone is 64 x 32 x 26 x 26 floats.
  assert.ok(line.memory.activations_peak! >= 64 * 32 * 26 * 26 * 4, `activations_peak ${line.memory.activations_peak}`);
  assert.ok(line.memory.rss! > 0);
});

test("--max-memory too small is refused at once, in one line with exit status 2, naming what fits", () => {
  const started = Date.now();
  const run = weftRun(["train", "mnist", "--net", "small", "--workers", "2", "--max-memory", "3M", "--max-steps", "2"]);
  assert.equal(run.status, 2, run.stderr);
  assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
  assert.match(run.stderr, /^weft train: --max-memory 3M per worker: ddp needs 3\.6 MB \(parameters 900 kB, gradients 900 kB, optimizer 1\.8 MB, before activations\); .*\bps \(1\.8 MB\)(,| or) .*would fit$/m);
  assert.ok(Date.now() - started < 30_000, "no worker was started");
});

test("nothing that fits is said so, with the least any strategy needs", () => {
  const run = weftRun(["train", "mnist", "--net", "small", "--workers", "2", "--max-memory", "100KiB"]);
  assert.equal(run.status, 2, run.stderr);
  assert.match(run.stderr, /--max-memory 100KiB per worker: ddp needs 3\.6 MB .*; no strategy fits on 2 workers \(the least is .* with .*\): raise --max-memory, or use more workers/);
});

test("a worker over --max-memory once its activations are counted fails after its first step, saying so in one line", () => {
  const run = weftRun(["train", "mnist", "--net", "small", "--max-memory", "4M", "--max-steps", "2"]);
  assert.equal(run.status, 1, run.stderr);
  assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
  assert.match(run.stderr, /^weft train: --max-memory 4M per worker: rank 0 held [\d.]+ MB at step 1 \(parameters 900 kB, gradients 900 kB, optimizer 1\.8 MB, activations [\d.]+ MB at their peak; resident/);
});

for (const bad of ["abc", "-5", "0", "12 parsecs", "1.5X", "Ki"]) {
  test(`--max-memory "${bad}" is a one-line usage error`, () => {
    const run = weftRun(["train", "mnist", "--net", "small", "--max-memory", bad]);
    assert.equal(run.status, 2, run.stderr);
    assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
    assert.match(run.stderr, /--max-memory must be a size per worker: bytes, or a number with K, M, G or T \(powers of 1000\) or KiB, MiB, GiB or TiB \(powers of 1024\)/);
  });
}

test("sizes: plain bytes, powers of 1000 and of 1024, B optional, case aside", () => {
  assert.equal(parseByteSize("200"), 200);
  assert.equal(parseByteSize("64M"), 64e6);
  assert.equal(parseByteSize("64mb"), 64e6);
  assert.equal(parseByteSize("1.5G"), 1.5e9);
  assert.equal(parseByteSize("512KiB"), 524_288);
  assert.equal(parseByteSize("2gib"), 2 * 1024 ** 3);
  assert.equal(parseByteSize("100B"), 100);
  assert.equal(parseByteSize("0.5"), undefined);
});
