// `weft train mnist --strategy pipeline` end to end through the command, as real worker processes
// on a budget of a few steps: the result line (the cut, each stage's bubble and live micro-batches,
// every rank ending with the same whole model, rank 0's evaluation of it), a metrics line per step
// per stage, and bad shapes refused in one line before anything starts. The runs train mnist's
// `--net small` (the PyTorch peer's network), whose cut the tests spell out.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

function weftTrain(args: string[]) {
  return spawnSync(process.execPath, [weft, "train", "mnist", "--net", "small", ...args], { cwd: root, encoding: "utf8", timeout: 300_000 });
}

test("weft train mnist --workers 2 --strategy pipeline --stages 2 --micro-batches 2 --max-steps 3 --json completes with a result line", () => {
  const run = weftTrain(["--workers", "2", "--strategy", "pipeline", "--stages", "2", "--micro-batches", "2", "--max-steps", "3", "--json"]);
  assert.equal(run.status, 0, run.stderr);
  const r = JSON.parse(run.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
  const runDir = r.run_dir as string;
  try {
    assert.equal(r.strategy, "pipeline");
    assert.equal(r.workers, 2);
    assert.equal(r.steps, 3);
    assert.ok(Number.isFinite(r.train_loss) && Number.isFinite(r.test_accuracy), `a loss and an accuracy: ${r.train_loss}, ${r.test_accuracy}`);
    assert.equal(r.replicas_identical, true, "finish() handed every stage on: both ranks hold the same whole model");
    assert.equal(r.pipeline_schedule, "1f1b");
    assert.equal(r.bubble_formula, 0.3333);
    assert.equal(r.live_micro_batches_by_stage, "2,1");
    const cut = Number(r.pipeline_split);
    assert.ok(cut >= 1 && cut <= 9, `one cut inside the CNN's 10 layers: ${r.pipeline_split}`);
    assert.match(String(r.bubble_by_stage), /^[\d.]+,[\d.]+$/);
    assert.match(String(r.stage_layers_by_stage), /^0\.\.\d \| \d\.\.9$/);
    for (const rank of [0, 1]) {
      const lines = readFileSync(join(runDir, `rank-${rank}.jsonl`), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, number>).filter((l) => l.loss !== undefined);
      assert.deepEqual(lines.map((l) => l.step), [1, 2, 3], `rank ${rank} wrote a metrics line per step`);
      assert.ok(lines.every((l) => l.pipeline_stage === rank && l.pipeline_bubble >= 0 && l.pipeline_bubble <= 1), `rank ${rank}'s lines say its stage and bubble`);
    }
    const losses = [0, 1].map((rank) => readFileSync(join(runDir, `rank-${rank}.jsonl`), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, number>).filter((l) => l.loss !== undefined).map((l) => l.loss));
    assert.deepEqual(losses[0], losses[1], "both stages report the step's loss");
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
});

const refused: [string[], RegExp][] = [
  [["--workers", "3", "--strategy", "pipeline", "--stages", "2"], /--workers 3 is not a multiple of --stages 2: .*use --workers 4, or change --stages/],
  [["--workers", "2", "--strategy", "pipeline", "--stages", "2", "--split", "3,6"], /--split 3,6 cuts the model into 3 stages, but there are 2 \(--stages\): give 1 layer index/],
  [["--workers", "2", "--strategy", "pipeline", "--schedule", "zigzag"], /--schedule must be one of gpipe, 1f1b, got "zigzag"/],
];

for (const [args, message] of refused) {
  test(`weft train mnist ${args.join(" ")} is refused in one line with exit status 2`, () => {
    const run = weftTrain(args);
    assert.equal(run.status, 2, run.stderr);
    assert.equal(run.stderr.trim().split("\n").length, 1, `more than one line:\n${run.stderr}`);
    assert.match(run.stderr, message);
  });
}

test("a batch the micro-batches do not divide stops the job with the one line that says so", () => {
  const run = weftTrain(["--workers", "2", "--strategy", "pipeline", "--micro-batches", "3", "--max-steps", "2", "--json"]);
  assert.notEqual(run.status, 0);
  assert.match(run.stderr, /a batch of 64 samples cannot be cut into 3 equal micro-batches: choose --micro-batches to divide --batch/);
  const runDir = /its output is in (\S+)\/rank-\d\.log/.exec(run.stderr)?.[1];
  if (runDir) rmSync(runDir, { recursive: true, force: true });
});
