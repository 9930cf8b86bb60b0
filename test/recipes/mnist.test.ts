// The MNIST recipe end to end, through the `weft` command as a user runs it: one process, and two
// data-parallel workers through the launcher. Both must reach 98% test accuracy with the default
// settings, and the two workers must finish with bitwise-identical parameters.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { digestFile } from "../../src/recipes/mnist-worker-files.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

/** Runs `weft train mnist ...args --json` and returns its last stdout line, parsed. */
function trainMnist(args: string[], env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const run = spawnSync(process.execPath, [weft, "train", "mnist", ...args, "--json"], { cwd: root, env, encoding: "utf8", timeout: 600_000 });
  assert.equal(run.status, 0, `weft train mnist failed:\n${run.stderr}`);
  const last = run.stdout.trim().split("\n").pop()!;
  return JSON.parse(last) as Record<string, unknown>;
}

test("weft train mnist --json reaches 98% test accuracy", () => {
  const r = trainMnist([]);
  assert.equal(r.recipe, "mnist");
  assert.equal(r.workers, 1);
  for (const key of ["test_accuracy", "samples_per_s", "wall_s"]) assert.equal(typeof r[key], "number", key);
  assert.ok((r.test_accuracy as number) >= 0.98, `test accuracy ${r.test_accuracy}`);
});

test("weft train mnist --workers 2 --json reaches 98% with identical replicas", () => {
  const r = trainMnist(["--workers", "2"]);
  try {
    assert.equal(r.workers, 2);
    assert.equal(r.strategy, "ddp");
    assert.equal(r.transport, "shared-memory");
    assert.ok((r.test_accuracy as number) >= 0.98, `test accuracy ${r.test_accuracy}`);
    const other = readFileSync(join(r.run_dir as string, digestFile(1)), "utf8");
    assert.equal(other, r.digest, "rank 1's parameters differ from rank 0's");
    const metrics = readFileSync(join(r.run_dir as string, "rank-1.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, number>);
    assert.equal(metrics.length, r.steps);
    for (const key of ["step", "loss", "samples_per_s", "compute_ms", "comm_ms", "wait_ms"]) assert.equal(typeof metrics[0]![key], "number", key);
  } finally {
    rmSync(r.run_dir as string, { recursive: true, force: true });
  }
});

test("WEFT_SHM=0: the two workers average over TCP and end with the same parameters as through shared memory", () => {
  const runs = [trainMnist(["--workers", "2", "--epochs", "1"], { ...process.env, WEFT_SHM: "0" }), trainMnist(["--workers", "2", "--epochs", "1"])];
  try {
    assert.deepEqual(runs.map((r) => r.transport), ["tcp", "shared-memory"]);
    for (const r of runs) assert.equal(readFileSync(join(r.run_dir as string, digestFile(1)), "utf8"), r.digest, "rank 1's parameters differ from rank 0's");
    // With two ranks both reduce x0 + x1 (addition commutes), so the two transports agree bit for bit.
    assert.equal(runs[0]!.digest, runs[1]!.digest);
  } finally {
    for (const r of runs) rmSync(r.run_dir as string, { recursive: true, force: true });
  }
});

test("a loss that becomes NaN stops training with the step named, not silently", () => {
  const run = spawnSync(process.execPath, [weft, "train", "mnist", "--lr", "1e30", "--epochs", "1"], { cwd: root, encoding: "utf8", timeout: 120_000 });
  assert.equal(run.status, 1);
  assert.match(run.stderr, /NonFiniteLossError: MNIST: the loss is (NaN|Infinity|-Infinity) at step \d+ \(epoch 0\); no update was applied\. Lower --lr/);
});
