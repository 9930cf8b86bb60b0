// Full-budget runs of the parameter server on MNIST (npm run test:full; minutes, not part of CI):
// on 4 workers (oversubscribed on small machines) each mode reaches 97.5% test accuracy within
// DDP's budget (the recipe's 12 epochs, which take DDP on 4 workers to 97.85%), sync with DDP's
// parameters bit for bit; and with one worker slowed 3x, async finishes before sync and DDP,
// because it never waits for the straggler (Note [the end of an async run] in ps-server.ts).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

/** Runs weft train mnist; returns its result line and the command's wall-clock seconds. */
function train(args: string[]): { r: Record<string, unknown>; seconds: number } {
  const t0 = performance.now();
  const run = spawnSync(process.execPath, [weft, "train", "mnist", "--workers", "4", "--oversubscribe", ...args, "--json"], { cwd: root, encoding: "utf8", timeout: 1_800_000 });
  const seconds = Math.round((performance.now() - t0) / 100) / 10;
  assert.equal(run.status, 0, `weft train mnist ${args.join(" ")} failed:\n${run.stderr}`);
  const r = JSON.parse(run.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
  console.log(JSON.stringify({ args: args.join(" "), seconds, ...r }));
  rmSync(r.run_dir as string, { recursive: true, force: true });
  return { r, seconds };
}

const modes: [string, string[]][] = [
  ["sync", ["--mode", "sync"]],
  ["async", ["--mode", "async"]],
  ["ssp with staleness 2", ["--mode", "ssp", "--staleness", "2"]],
];

for (const [name, flags] of modes) {
  test(`ps ${name} on 4 workers reaches 97.5% test accuracy in DDP's 12 epochs`, () => {
    const { r } = train(["--strategy", "ps", ...flags]);
    assert.equal(r.epochs, 12);
    assert.ok((r.test_accuracy as number) >= 0.975, `test accuracy ${r.test_accuracy}`);
    assert.equal(r.replicas_identical, true, "every worker ends with the servers' parameters");
  });
}

test("ps sync on 4 workers ends with DDP's parameters bit for bit", () => {
  const ps = train(["--strategy", "ps", "--max-steps", "40"]).r;
  const ddp = train(["--strategy", "ddp", "--max-steps", "40"]).r;
  assert.equal(ps.digest, ddp.digest);
});

test("with worker 1 slowed 3x, ps async finishes in less wall-clock time than ps sync and ddp", () => {
  const slow = ["--slow-rank", "1", "--slowdown", "3"];
  const async = train(["--strategy", "ps", "--mode", "async", ...slow]);
  const sync = train(["--strategy", "ps", "--mode", "sync", ...slow]);
  const ddp = train(["--strategy", "ddp", ...slow]);
  assert.ok(async.seconds < sync.seconds, `async ${async.seconds} s, sync ${sync.seconds} s`);
  assert.ok(async.seconds < ddp.seconds, `async ${async.seconds} s, ddp ${ddp.seconds} s`);
});
