// Full-accuracy runs of elastic MNIST (npm run test:full; minutes, not part of CI): 3 workers with
// one SIGKILLed mid-epoch finish in place at the recipe's bar, 98% test accuracy; and a chaos run
// of 30 random kills and freezes ends with no hang, no digest disagreement and accuracy within
// 0.5 points of the fault-free run of the same seed.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { waitForSteps } from "../distributed/helpers/job-workers.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

test("weft train mnist --workers 3 --min 2, one worker SIGKILLed mid-epoch: 98% with 2 workers at the end", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-elastic-full-"));
  try {
    const child = spawn(process.execPath, [weft, "train", "mnist", "--workers", "3", "--min", "2", "--json", "--run-dir", dir], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.on("exit", r));
    // Mid-epoch of the second epoch (42 steps an epoch on 3 workers).
    process.kill(await waitForSteps(dir, 1, 60, 600_000), "SIGKILL");
    assert.equal(await exited, 0, err);
    const r = JSON.parse(out.trim().split("\n").pop()!) as Record<string, unknown>;
    console.log(JSON.stringify(r));
    assert.ok((r.test_accuracy as number) >= 0.98, `test accuracy ${r.test_accuracy}`);
    assert.ok((r.recoveries as number) >= 1);
    assert.equal(r.final_workers, 2);
    assert.equal(r.replicas_identical, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("weft chaos mnist: 30 kills and freezes, no hang, no digest disagreement, within 0.5 points of the fault-free run", () => {
  const out = mkdtempSync(join(tmpdir(), "weft-chaos-full-"));
  try {
    const run = spawnSync(process.execPath, [weft, "chaos", "mnist", "--workers", "3", "--faults", "kill,stop", "--every", "2", "--count", "30", "--out", out, "--json"],
      { cwd: root, encoding: "utf8", timeout: 2_400_000 });
    assert.equal(run.status, 0, run.stderr);
    const r = JSON.parse(run.stdout.trim().split("\n").pop()!) as Record<string, number>;
    console.log(JSON.stringify({ ...r, faults: undefined }));
    assert.ok(r.faults_injected! >= 30, `only ${r.faults_injected} faults before training ended`);
    assert.equal(r.hangs, 0);
    assert.equal(r.digest_disagreements, 0);
    assert.equal(r.baseline_recoveries, 0, "the fault-free run left no one out");
    assert.ok(Math.abs(r.chaos_value! - r.baseline_value!) <= 0.005, `chaos ${r.chaos_value} against ${r.baseline_value}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
