// `weft train mnist --strategy gossip` and `--strategy local-sgd` end to end through the
// command, as real worker processes on a budget of a few steps (the full-accuracy runs are in
// test/full/decentralized.full.ts): the result line's fields, a metrics line per step, a slowed
// worker not waited for, bytes per sync, and bad flags refused in one line.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

/** The MNIST CNN's parameters: conv 1→32 and 32→64 (3×3), linear 1600→128 and 128→10. */
const MNIST_CNN_FLOATS = 32 * 9 + 32 + 64 * 32 * 9 + 64 + 1600 * 128 + 128 + 128 * 10 + 10;

function trainMnist(args: string[]): Record<string, unknown> {
  const run = spawnSync(process.execPath, [weft, "train", "mnist", ...args, "--json"], { cwd: root, encoding: "utf8", timeout: 300_000 });
  assert.equal(run.status, 0, `weft train mnist ${args.join(" ")} failed:\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
}

function metrics(runDir: string, rank: number): Record<string, number>[] {
  return readFileSync(join(runDir, `rank-${rank}.jsonl`), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, number>).filter((l) => l.step !== undefined && l.loss !== undefined);
}

test("weft train mnist --workers 2 --strategy gossip: averaged replicas, the consensus distance, gossip counts and per-step mixing", () => {
  const r = trainMnist(["--workers", "2", "--strategy", "gossip", "--max-steps", "16", "--warmup-steps", "0"]);
  try {
    assert.equal(r.strategy, "gossip");
    assert.equal(r.topology, "ring");
    assert.equal(r.steps, 16);
    assert.equal(r.replicas_identical, true, "finish() averages the replicas");
    assert.equal(typeof r.consensus_distance, "number");
    assert.ok((r.consensus_distance as number) > 0 && (r.consensus_distance_relative as number) < 0.5, `consensus ${r.consensus_distance} (${r.consensus_distance_relative})`);
    assert.ok((r.gossip_sends as number) > 0 && (r.gossip_arrivals_mixed as number) > 0, JSON.stringify(r));
    assert.ok((r.test_accuracy as number) > 0.3, `test accuracy ${r.test_accuracy}`);
    for (const rank of [0, 1]) {
      const lines = metrics(r.run_dir as string, rank);
      assert.equal(lines.length, 16);
      assert.ok(lines.every((l) => typeof l.mixed === "number" && typeof l.sends_skipped === "number"));
      assert.ok(lines.some((l) => l.mixed > 0 && typeof l.peer_distance === "number"), `rank ${rank} never mixed`);
    }
  } finally {
    rmSync(r.run_dir as string, { recursive: true, force: true });
  }
});

test("gossip does not wait for a worker slowed 3x: when rank 0 has taken its last step, rank 1 has taken well under as many", () => {
  const steps = 30;
  const r = trainMnist(["--workers", "2", "--strategy", "gossip", "--max-steps", String(steps), "--slow-rank", "1", "--slowdown", "3"]);
  try {
    const fastDone = metrics(r.run_dir as string, 0).at(-1)!.time!;
    const slowByThen = metrics(r.run_dir as string, 1).filter((l) => l.time! <= fastDone).length;
    // In lockstep (DDP) rank 1 would have taken all 30; at a third of the speed it takes ~10-15.
    assert.ok(slowByThen < (2 * steps) / 3, `rank 1 had taken ${slowByThen} of ${steps} steps when rank 0 finished`);
    // ...and then the run was over (Note [the end of a gossip run]): rank 1 skipped what it had left.
    const report1 = JSON.parse(readFileSync(join(r.run_dir as string, "report-1.json"), "utf8")) as { steps_skipped: number };
    assert.ok(report1.steps_skipped > 0 && report1.steps_skipped === r.steps_skipped, JSON.stringify(report1));
    assert.equal(r.replicas_identical, true);
  } finally {
    rmSync(r.run_dir as string, { recursive: true, force: true });
  }
});

test("weft train mnist --workers 2 --strategy local-sgd --sync-every 5: 16 steps are 3 syncs and a partial one, each one all-reduce of the parameters", () => {
  const r = trainMnist(["--workers", "2", "--strategy", "local-sgd", "--sync-every", "5", "--outer-optimizer", "nesterov", "--max-steps", "16", "--warmup-steps", "0"]);
  try {
    assert.equal(r.strategy, "local-sgd");
    assert.equal(r.syncs, 4);
    assert.equal(r.sync_every, 5);
    assert.equal(r.outer_optimizer, "nesterov");
    assert.equal(r.outer_lr, 0.7);
    assert.equal(r.replicas_identical, true);
    // An all-reduce of n floats sends 4n bytes per rank through shared memory, and over TCP
    // 2(w-1)/w · 4n = 4n on two ranks, plus frame headers.
    const expected = 4 * 4 * MNIST_CNN_FLOATS;
    const sent = r.bytes_sent_per_worker as number;
    assert.ok(sent >= expected && sent < expected * 1.01, `sent ${sent} bytes per worker, 4 syncs of the parameters are ${expected}`);
    const lines = metrics(r.run_dir as string, 1);
    assert.deepEqual(lines.map((l) => l.synced), [0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]);
    assert.ok((r.test_accuracy as number) > 0.3, `test accuracy ${r.test_accuracy}`);
  } finally {
    rmSync(r.run_dir as string, { recursive: true, force: true });
  }
});

const refused: [string[], RegExp][] = [
  [["--strategy", "gossip", "--topology", "star"], /--topology must be one of ring, random, exponential, got "star"/],
  [["--strategy", "local-sgd", "--sync-every", "0"], /--sync-every must be an integer from 1 to \d+, got "0"/],
  [["--strategy", "local-sgd", "--sync-every", "2.5"], /--sync-every must be an integer from 1 to \d+, got "2.5"/],
  [["--strategy", "local-sgd", "--outer-lr", "0"], /--outer-lr must be a number above 0, at most 10, got "0"/],
  [["--strategy", "local-sgd", "--outer-lr", "fast"], /--outer-lr must be a number above 0, at most 10, got "fast"/],
  [["--strategy", "local-sgd", "--outer-lr", "50"], /--outer-lr must be a number above 0, at most 10, got "50"/],
  [["--strategy", "local-sgd", "--outer-optimizer", "adam"], /--outer-optimizer must be one of sgd, nesterov, got "adam"/],
  [["--strategy", "ddp", "--topology", "ring"], /--topology is an option of --strategy gossip, not of ddp/],
  [["--strategy", "gossip", "--sync-every", "4"], /--sync-every is an option of --strategy local-sgd, not of gossip/],
];

for (const [args, message] of refused) {
  test(`weft train mnist --workers 2 ${args.join(" ")} is refused in one line with exit status 2`, () => {
    const run = spawnSync(process.execPath, [weft, "train", "mnist", "--workers", "2", ...args], { cwd: root, encoding: "utf8", timeout: 60_000 });
    assert.equal(run.status, 2, run.stderr);
    assert.equal(run.stderr.trim().split("\n").length, 1, `more than one line:\n${run.stderr}`);
    assert.match(run.stderr, message);
  });
}
