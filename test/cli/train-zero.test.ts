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

test("a GPT whose parameters, gradients and Adam state do not fit --max-memory under DDP trains across 4 workers with ZeRO-3 and with pipeline stages", () => {
  // 8 blocks of width 256 (6.4 M parameters): a replica needs 102 MB before activations.
  const gpt = ["gpt-text", "--workers", "4", "--layers", "8", "--dim", "256", "--heads", "4", "--batch", "8", "--max-steps", "2", "--max-memory", "72M", "--json"];
  const run = (extra: string[]) => spawnSync(process.execPath, [weft, "train", ...gpt, ...extra], { cwd: root, encoding: "utf8", timeout: 180_000 });
  const ddp = run([]);
  assert.equal(ddp.status, 2, ddp.stderr);
  assert.match(ddp.stderr, /--max-memory 72M per worker: ddp needs 102 MB .*would fit/);
  for (const strategy of [["--strategy", "zero", "--stage", "3"], ["--strategy", "pipeline", "--stages", "4", "--micro-batches", "8"]]) {
    const r = run(strategy);
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout.trim().split("\n").pop()!) as { steps: number; value: number; memory: Record<string, number> };
    assert.equal(result.steps, 2);
    assert.ok(Number.isFinite(result.value));
    const held = result.memory.parameters! + result.memory.gradients! + result.memory.optimizer! + result.memory.activations_peak!;
    assert.ok(held <= 72e6 && held < 102e6 / 1.5, `${strategy.join(" ")} held ${held}`);
  }
});
