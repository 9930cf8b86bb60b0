// `weft train mnist --workers 3 --min 2` as a user runs it: a worker killed mid-epoch, frozen, or
// replaced, and the job goes on in place; too few left, and it stops naming who is left.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { waitForGeneration, waitForSteps } from "../distributed/helpers/job-workers.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

interface Outcome { code: number | null; stdout: string; stderr: string; result?: Record<string, unknown> }

/** Starts `weft train mnist` elastic on 3 workers; `during` acts on the running job. */
async function elasticRun(extra: string[], during: (runDir: string) => Promise<void>): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), "weft-elastic-"));
  const runDir = join(dir, "run");
  const child = spawn(process.execPath, [weft, "train", "mnist", "--workers", "3", "--epochs", "1", ...(extra.includes("--max-steps") ? [] : ["--max-steps", "36"]), "--json", "--run-dir", runDir, ...extra], {
    cwd: root, detached: true, stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "", stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const guard = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 150_000);
  try {
    await during(runDir);
    const code = await exited;
    const last = stdout.trim().split("\n").pop() ?? "";
    return { code, stdout, stderr, ...(last.startsWith("{") ? { result: JSON.parse(last) as Record<string, unknown> } : {}) };
  } finally {
    clearTimeout(guard);
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone with all its workers
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

test("a worker SIGKILLed mid-epoch: the other two re-form in place and finish, replicas identical", async () => {
  const out = await elasticRun(["--min", "2"], async (runDir) => void process.kill(await waitForSteps(runDir, 1, 8), "SIGKILL"));
  assert.equal(out.code, 0, out.stderr);
  const r = out.result!;
  assert.equal(r.recoveries, 1, out.stderr);
  assert.equal(r.final_workers, 2);
  assert.equal(r.replicas_identical, true);
  assert.ok((r.recovery_ms as number[])[0]! < 5000, `recovery took ${r.recovery_ms} ms`);
  assert.match(out.stderr, /rank 1 exited with signal SIGKILL; the others go on without it/);
  assert.match(out.stderr, /generation 1 of 2 worker\(s\) formed in \d+ ms, without w1/);
});

test("with --max-restarts the launcher starts a replacement, which joins and ends identical to the others", async () => {
  const out = await elasticRun(["--min", "2", "--max", "3", "--max-restarts", "1"], async (runDir) => void process.kill(await waitForSteps(runDir, 1, 4), "SIGKILL"));
  assert.equal(out.code, 0, out.stderr);
  const r = out.result!;
  assert.equal(r.final_workers, 3, out.stderr);
  assert.equal(r.replicas_identical, true, "the joiner's parameters equal the others' at the end");
  assert.match(out.stderr, /rank 3 starts in its place \(restart 1 of 1\)/);
  assert.match(out.stderr, /w1r1 joined generation \d+ as rank \d of 3/);
});

test("a worker frozen by SIGSTOP is left out within seconds; woken by SIGCONT it learns so, joins again, and ends identical", async () => {
  let stoppedAt = 0;
  const out = await elasticRun(["--min", "2", "--max-steps", "60"], async (runDir) => {
    const pid = await waitForSteps(runDir, 2, 6);
    process.kill(pid, "SIGSTOP");
    stoppedAt = Date.now();
    await waitForGeneration(runDir, 0, 1);
    const detected = Date.now() - stoppedAt;
    assert.ok(detected < 10_000, `the frozen worker was left out after ${detected} ms`);
    process.kill(pid, "SIGCONT");
  });
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stderr, /lost the connection to rank 2 \(silent for \d+ ms/);
  assert.match(out.stderr, /w2 was left out of generation 1 \(members w\d, w\d\); asking to join again/);
  const r = out.result!;
  assert.equal(r.final_workers, 3, out.stderr);
  assert.equal(r.recoveries, 2);
  assert.equal(r.replicas_identical, true);
});

test("fewer than --min left: the job stops with a message naming who is left, and fails", async () => {
  const out = await elasticRun(["--min", "3"], async (runDir) => void process.kill(await waitForSteps(runDir, 2, 4), "SIGKILL"));
  assert.notEqual(out.code, 0);
  assert.match(out.stderr, /the job stops at generation 1: only 2 worker\(s\) are left \(w\d, w\d\), fewer than --min 3/);
  assert.equal(out.result, undefined);
});

test("elastic flags that cannot work are one-line usage errors", () => {
  const usage = (...args: string[]) => {
    const run = spawnSync(process.execPath, [weft, "train", "mnist", ...args], { cwd: root, encoding: "utf8", timeout: 30_000 });
    assert.equal(run.status, 2, run.stderr);
    return run.stderr.trim();
  };
  assert.match(usage("--workers", "3", "--min", "2", "--strategy", "ps"), /--min\/--max \(elastic\) work with --strategy ddp, local-sgd, gossip, not ps/);
  assert.match(usage("--workers", "3", "--min", "4"), /--workers 3 must lie within --min 4 and --max 3/);
  assert.match(usage("--workers", "2", "--max-restarts", "1"), /--max-restarts replaces workers of an elastic job: add --min A/);
});

test("an elastic run killed whole resumes from its newest checkpoint on another number of workers, the rest of the epoch re-dealt", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-elastic-resume-"));
  try {
    const ckpt = join(dir, "ckpt");
    const child = spawn(process.execPath, [weft, "train", "mnist", "--workers", "3", "--min", "2", "--epochs", "1", "--checkpoint-dir", ckpt, "--checkpoint-every", "10", "--json", "--run-dir", join(dir, "run")],
      { cwd: root, detached: true, stdio: "ignore" });
    const exited = new Promise((r) => child.on("exit", r));
    const deadline = Date.now() + 120_000;
    while (!existsSync(join(ckpt, "step-30.safetensors"))) {
      assert.ok(Date.now() < deadline, "no checkpoint at step 30");
      await new Promise((r) => setTimeout(r, 10));
    }
    process.kill(-child.pid!, "SIGKILL");
    await exited;
    const run = spawnSync(process.execPath, [weft, "train", "mnist", "--workers", "2", "--min", "1", "--epochs", "1", "--checkpoint-dir", ckpt, "--resume", "--json"], { cwd: root, encoding: "utf8", timeout: 120_000 });
    assert.equal(run.status, 0, run.stderr);
    const r = JSON.parse(run.stdout.trim().split("\n").pop()!) as Record<string, number>;
    const from = r.resumed_from_step!;
    assert.ok(from >= 30, `resumed from ${from}`);
    // 8,000 samples, 192 a step on 3 workers until the kill; the rest in steps of 128 on 2.
    assert.equal(r.steps, from + Math.ceil((8000 - from * 192) / 128));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
