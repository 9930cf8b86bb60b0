// Full-accuracy runs of the MNIST recipe (npm run test:full; minutes, not part of CI): the
// default budget reaches the recipe's quality bar, 99% test accuracy, on one process and on two
// data-parallel workers whose replicas end bitwise identical.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

function train(args: string[]): Record<string, unknown> {
  const run = spawnSync(process.execPath, [weft, "train", "mnist", ...args, "--json"], { cwd: root, encoding: "utf8", timeout: 1_200_000 });
  assert.equal(run.status, 0, `weft train mnist failed:\n${run.stderr}`);
  const r = JSON.parse(run.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
  console.log(JSON.stringify(r));
  return r;
}

test("weft train mnist reaches 99% test accuracy", () => {
  const r = train([]);
  assert.ok((r.test_accuracy as number) >= 0.99, `test accuracy ${r.test_accuracy}`);
});

test("weft train mnist --workers 2 reaches 99% with identical replicas", () => {
  const r = train(["--workers", "2"]);
  try {
    assert.equal(r.replicas_identical, true);
    assert.ok((r.test_accuracy as number) >= 0.99, `test accuracy ${r.test_accuracy}`);
  } finally {
    rmSync(r.run_dir as string, { recursive: true, force: true });
  }
});
