// Full-accuracy runs of the lesions recipe (npm run test:full; minutes, not part of CI): the
// default budget reaches the recipe's quality bar, a mean per-image Dice of 0.85 on the 512 test
// phantoms, on one process and on two data-parallel workers whose replicas end bitwise identical.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

function train(args: string[]): Record<string, unknown> {
  const run = spawnSync(process.execPath, [weft, "train", "lesions", ...args, "--json"], { cwd: root, encoding: "utf8", timeout: 1_800_000 });
  assert.equal(run.status, 0, `weft train lesions failed:\n${run.stderr}`);
  const r = JSON.parse(run.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
  console.log(JSON.stringify(r));
  return r;
}

test("weft train lesions reaches a mean Dice of 0.85, well above the threshold baseline", () => {
  const r = train([]);
  assert.ok((r.dice as number) >= 0.85, `dice ${r.dice}`);
  assert.ok((r.dice as number) > (r.threshold_dice as number) + 0.1, `dice ${r.dice} against the baseline's ${r.threshold_dice}`);
});

test("weft train lesions --workers 2 reaches 0.85 with identical replicas", () => {
  const r = train(["--workers", "2"]);
  try {
    assert.equal(r.replicas_identical, true);
    assert.ok((r.dice as number) >= 0.85, `dice ${r.dice}`);
  } finally {
    rmSync(r.run_dir as string, { recursive: true, force: true });
  }
});
