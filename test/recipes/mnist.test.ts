// The MNIST recipe end to end through the `weft` command, as a user runs it, on a budget of a few
// steps (the full-accuracy runs are in test/full/, `npm run test:full`): one process, two
// data-parallel workers with bitwise-identical replicas, and the two transports agreeing.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

/** Runs `weft train mnist ...args --json` and returns its last stdout line, parsed. */
function trainMnist(args: string[], env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const run = spawnSync(process.execPath, [weft, "train", "mnist", ...args, "--json"], { cwd: root, env, encoding: "utf8", timeout: 300_000 });
  assert.equal(run.status, 0, `weft train mnist failed:\n${run.stderr}`);
  const last = run.stdout.trim().split("\n").pop()!;
  return JSON.parse(last) as Record<string, unknown>;
}

test("weft train mnist --json: the result line names the recipe, strategy, metric and value, and training learned", () => {
  const r = trainMnist(["--max-steps", "40"]);
  assert.equal(r.recipe, "mnist");
  assert.equal(r.strategy, "single");
  assert.equal(r.workers, 1);
  assert.equal(r.metric, "test_accuracy");
  assert.equal(r.value, r.test_accuracy);
  assert.equal(r.steps, 40);
  for (const key of ["samples_per_s", "wall_s", "train_loss"]) assert.equal(typeof r[key], "number", key);
  assert.ok(Number.isInteger(r.samples_per_s), `samples_per_s ${r.samples_per_s} is a whole number`);
  // 40 steps of 64 digits take a 10-class CNN far past chance (10%).
  assert.ok((r.test_accuracy as number) > 0.5, `test accuracy ${r.test_accuracy}`);
});

test("weft train mnist --workers 2: ddp, identical replicas, a metrics line per step on every rank", () => {
  const r = trainMnist(["--workers", "2", "--max-steps", "20"]);
  try {
    assert.equal(r.workers, 2);
    assert.equal(r.strategy, "ddp");
    assert.equal(r.transport, "shared-memory");
    assert.equal(r.replicas_identical, true);
    const digest1 = (JSON.parse(readFileSync(join(r.run_dir as string, "report-1.json"), "utf8")) as { digest: string }).digest;
    assert.equal(digest1, r.digest, "rank 1's parameters differ from rank 0's");
    const metrics = readFileSync(join(r.run_dir as string, "rank-1.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, number>);
    assert.equal(metrics.length, 20);
    for (const key of ["step", "loss", "samples_per_s", "compute_ms", "comm_ms", "wait_ms", "wall_s", "bytes_sent", "bytes_received"]) assert.equal(typeof metrics[0]![key], "number", key);
    // Bytes are cumulative, and every step of DDP moves gradients.
    for (let i = 1; i < metrics.length; i++) assert.ok(metrics[i]!.bytes_sent! > metrics[i - 1]!.bytes_sent!, `step ${i + 1} sent nothing`);
    const report1 = JSON.parse(readFileSync(join(r.run_dir as string, "report-1.json"), "utf8")) as { bytes_sent: number };
    assert.equal(report1.bytes_sent, metrics.at(-1)!.bytes_sent, "rank 1's report and its last metrics line disagree on its bytes");
    assert.equal(r.bytes_sent_per_worker, Math.round(((r.bytes_sent as number) + report1.bytes_sent) / 2));
  } finally {
    rmSync(r.run_dir as string, { recursive: true, force: true });
  }
});

test("one worker with --run-dir --eval-every 1 writes its step and eval lines there", () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-single-run-"));
  try {
    const r = trainMnist(["--max-steps", "8", "--batch", "1000", "--eval-every", "1", "--run-dir", dir]);
    assert.equal(r.run_dir, dir);
    const lines = readFileSync(join(dir, "rank-0.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    // 8,000 digits in batches of 1,000: 8 steps is one epoch, whose evaluation is the result's.
    assert.deepEqual(lines.filter((l) => l.event === "eval").map((l) => [l.step, l.test_accuracy]), [[8, r.test_accuracy]]);
    assert.equal(lines.filter((l) => l.event === undefined).length, 8);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("WEFT_SHM=0: the two workers average over TCP and end with the same parameters as through shared memory", () => {
  const runs = [trainMnist(["--workers", "2", "--max-steps", "10"], { ...process.env, WEFT_SHM: "0" }), trainMnist(["--workers", "2", "--max-steps", "10"])];
  try {
    assert.deepEqual(runs.map((r) => r.transport), ["tcp", "shared-memory"]);
    for (const r of runs) assert.equal(r.replicas_identical, true);
    // With two ranks both reduce x0 + x1 (addition commutes), so the two transports agree bit for bit.
    assert.equal(runs[0]!.digest, runs[1]!.digest);
  } finally {
    for (const r of runs) rmSync(r.run_dir as string, { recursive: true, force: true });
  }
});

test("a loss that becomes NaN stops training with the step named, in one line", () => {
  const run = spawnSync(process.execPath, [weft, "train", "mnist", "--lr", "1e30", "--max-steps", "20"], { cwd: root, encoding: "utf8", timeout: 120_000 });
  assert.equal(run.status, 1);
  assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
  assert.match(run.stderr, /NonFiniteLossError: the loss is (NaN|Infinity|-Infinity) at step \d+ \(one process\); no update was applied\. Lower the learning rate \(--lr\)/);
});

test("a NaN under --workers 2 stops both workers in one line naming the rank and the step", () => {
  const run = spawnSync(process.execPath, [weft, "train", "mnist", "--workers", "2", "--lr", "1e30", "--max-steps", "20"], { cwd: root, encoding: "utf8", timeout: 120_000 });
  assert.equal(run.status, 1);
  assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
  assert.match(run.stderr, /rank [01] failed .*NonFiniteLossError: the loss is (NaN|Infinity|-Infinity) at step \d+ \(averaged over 2 ranks\); no update was applied/);
  const runDir = /its output is in (\S+)\/rank-\d\.log/.exec(run.stderr)?.[1];
  if (runDir) rmSync(runDir, { recursive: true, force: true });
});
