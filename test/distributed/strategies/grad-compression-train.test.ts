// `weft train --grad-compression` end to end: a 2-worker MNIST run with PowerSGD rank 4 learns
// nearly as fast as DDP on a twentieth of the bytes, with identical replicas; bad values and
// strategies that do not take the flag are refused in one line.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

function weftRun(args: string[]) {
  return spawnSync(process.execPath, [weft, ...args], { cwd: root, encoding: "utf8", timeout: 120_000 });
}

/** The result line of a 40-step run of mnist's small CNN on 2 workers, and rank 0's loss at each step. */
function trainMnist(extra: string[]): { result: Record<string, unknown>; losses: number[] } {
  const run = weftRun(["train", "mnist", "--net", "small", "--workers", "2", "--max-steps", "40", ...extra, "--json"]);
  assert.equal(run.status, 0, `weft train mnist ${extra.join(" ")} failed:\n${run.stderr}`);
  const result = JSON.parse(run.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
  const runDir = result.run_dir as string;
  try {
    const lines = readFileSync(join(runDir, "rank-0.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, number>);
    return { result, losses: lines.filter((l) => l.step !== undefined && l.loss !== undefined).map((l) => l.loss!) };
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
}

const mean = (a: readonly number[]): number => a.reduce((s, x) => s + x, 0) / a.length;

/** mnist's --net small: conv 32x1x3x3 and 64x32x3x3, linear 128x1600 and 10x128, and their biases. */
const MATRICES: [number, number][] = [[32, 9], [64, 288], [128, 1600], [10, 128]];
const BIASES = 32 + 64 + 128 + 10;

test("weft train mnist --workers 2 --grad-compression powersgd:4: a few steps behind DDP at most, on 1/24 of the bytes", () => {
  const ddp = trainMnist([]);
  const psgd = trainMnist(["--grad-compression", "powersgd:4"]);
  assert.equal(psgd.result.replicas_identical, true);
  assert.deepEqual([ddp.result.grad_compression, psgd.result.grad_compression], ["none", "powersgd:4"]);
  assert.equal(psgd.losses.length, 40);
  // The tolerance: PowerSGD sends a rank-4 part of each gradient now and, by error feedback, the
  // rest over later steps, so it trails DDP by the few steps that rest takes to arrive (Vogels et
  // al. 2019, who find rank 4 reaching SGD's accuracy in the end). Averaged over the last 10 steps
  // (one step's loss is one batch's), its loss must be no higher than DDP's 5 steps earlier;
  // measured, it is DDP's about 3 steps earlier (and 14% above DDP's at the same steps).
  const last = mean(psgd.losses.slice(30));
  const ddpEarlier = mean(ddp.losses.slice(25, 35));
  assert.ok(last <= ddpEarlier, `PowerSGD's loss over steps 31-40 is ${last.toFixed(3)}; DDP's over steps 26-35 was ${ddpEarlier.toFixed(3)}`);
  assert.ok(last < 0.7 * mean(psgd.losses.slice(0, 10)), "PowerSGD learned");
  // Bytes: every matrix travels as R(rows + cols) floats instead of rows·cols; biases whole.
  const floats = (m: [number, number][], f: (r: number, c: number) => number) => m.reduce((s, [r, c]) => s + f(r, c), BIASES);
  const formula = floats(MATRICES, (r, c) => r * c) / floats(MATRICES, (r, c) => 4 * (r + c));
  const ratio = Number(ddp.result.bytes_sent) / Number(psgd.result.bytes_sent);
  assert.ok(Math.abs(ratio / formula - 1) < 0.02, `DDP sent ${ddp.result.bytes_sent} bytes, PowerSGD ${psgd.result.bytes_sent}: ${ratio.toFixed(2)}x, the formula says ${formula.toFixed(2)}x`);
});

const refused: [string[], RegExp][] = [
  [["--workers", "2", "--grad-compression", "powersgd:0"], /^weft train: --grad-compression powersgd:0: the rank R must be an integer >= 1, got "0"$/],
  [["--workers", "2", "--grad-compression", "topk:1.5"], /^weft train: --grad-compression topk:1.5: the fraction F must be above 0 and below 1, got "1.5"$/],
  [["--workers", "2", "--grad-compression", "topk"], /^weft train: --grad-compression topk: write topk:F with the fraction F, e.g. topk:0.01$/],
  [["--workers", "2", "--grad-compression", "fp8"], /^weft train: --grad-compression must be none, bf16, powersgd:R\[:W\]\[:bf16\] .* or topk:F .*, got "fp8"$/],
  [["--workers", "2", "--strategy", "zero", "--grad-compression", "bf16"], /^weft train: --grad-compression is an option of --strategy ddp, not of zero$/],
  [["--grad-compression", "powersgd:4"], /^weft train: --grad-compression is an option of --strategy ddp, not of single$/],
];

for (const [args, message] of refused) {
  test(`weft train mnist ${args.join(" ")} is refused in one line with exit status 2`, () => {
    const run = weftRun(["train", "mnist", ...args]);
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr.trim(), message);
  });
}
