// `weft train mnist --strategy zero` end to end: every stage ends with identical replicas (and
// the same parameters at every stage: the same updates, Note [zero matches DDP]); stage 3's
// checkpoint folder holds a file per worker, and one process resumes from it; --eval-every with
// stage 3 is refused in one line.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

function weftRun(args: string[], status = 0) {
  const run = spawnSync(process.execPath, [weft, "train", "mnist", ...args], { cwd: root, encoding: "utf8", timeout: 120_000 });
  assert.equal(run.status, status, run.stderr);
  return { result: status === 0 ? JSON.parse(run.stdout.trim().split("\n").pop()!) as Record<string, unknown> : {}, stderr: run.stderr };
}

test("weft train mnist --strategy zero: stages 1, 2 and 3 reach the same parameters, replicas identical; stage 3's shards resume in one process", () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-zero-cli-"));
  try {
    const digests = [1, 2, 3].map((stage) => {
      const extra = stage === 3 ? ["--checkpoint-dir", join(dir, "ckpt"), "--checkpoint-every", "2", "--keep", "2"] : [];
      const { result } = weftRun(["--workers", "2", "--strategy", "zero", "--stage", String(stage), "--max-steps", "4", "--json", ...extra]);
      assert.equal(result.strategy, "zero");
      assert.equal(result.zero_stage, stage);
      assert.equal(result.replicas_identical, true);
      return result.digest;
    });
    assert.ok(digests.every((d) => d === digests[0]), `stages differ: ${digests}`);
    assert.deepEqual(readdirSync(join(dir, "ckpt")).sort(), ["step-2.shard-0-of-2.safetensors", "step-2.shard-1-of-2.safetensors", "step-4.shard-0-of-2.safetensors", "step-4.shard-1-of-2.safetensors"]);
    // Step 4 of 2 workers is step 8 of one: the single process goes on to step 10.
    const { result } = weftRun(["--checkpoint-dir", join(dir, "ckpt"), "--resume", "--max-steps", "10", "--json"]);
    assert.equal(result.resumed_from_step, 4);
    assert.equal(result.steps, 10);
    assert.ok(Number.isFinite(result.value));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("weft train --strategy zero --stage 3 --eval-every is refused in one line", () => {
  const { stderr } = weftRun(["--workers", "2", "--strategy", "zero", "--stage", "3", "--eval-every", "1"], 2);
  assert.equal(stderr.trim().split("\n").length, 1);
  assert.match(stderr, /--strategy zero --stage 3 holds it in parts until the end: drop --eval-every/);
});
