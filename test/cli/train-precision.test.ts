// `--precision` on weft train (src/cli/precision-flag.ts): plain bf16 trains in bf16 only where
// the CPU multiplies bf16 in hardware and otherwise says so in one line and trains in f32;
// bf16-anywhere trains in bf16 on any CPU, on every rank of a job. The runs are a tiny gpt-text
// model, whose loss is nearly all matrix products, for a few steps.
//
// Tolerance: bf16 rounds each operand to 8 significant bits (relative error <= 2^-9), so after a
// few steps from the same seed the loss moves by well under 1%; 5% leaves room for any seed while
// still catching a run that diverged, and "not equal" catches a flag that changed nothing.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { bf16GemmPath } from "../../src/backend/index.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");
const tiny = ["train", "gpt-text", "--max-steps", "6", "--layers", "1", "--dim", "32", "--heads", "2", "--context", "16", "--val-windows", "8", "--json"];

interface Line { precision: string; bf16_path?: string; train_loss: number; val_loss: number; replicas_identical?: boolean }

function train(...extra: string[]): { line: Line; stderr: string } {
  const run = spawnSync(process.execPath, [weft, ...tiny, ...extra], { cwd: root, encoding: "utf8", timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  return { line: JSON.parse(run.stdout.trim().split("\n").at(-1)!) as Line, stderr: run.stderr };
}

function assertCloseButNotEqual(bf16: number, f32: number): void {
  assert.notEqual(bf16, f32, "bf16 products left the loss unchanged: the precision did not reach the model");
  assert.ok(Math.abs(bf16 - f32) / f32 < 0.05, `bf16 loss ${bf16} is more than 5% from f32's ${f32}`);
}

const f32 = train();

test("a plain run multiplies in f32 and says so on its line", () => {
  assert.equal(f32.line.precision, "f32");
  assert.equal(f32.line.bf16_path, undefined);
});

test("--precision bf16 trains in bf16 where the CPU has AMX or AVX512-BF16, and elsewhere says so in one line and trains in f32", () => {
  const { line, stderr } = train("--precision", "bf16");
  const path = bf16GemmPath();
  if (path === "emulated") {
    const said = stderr.split("\n").filter((l) => l.includes("--precision"));
    assert.deepEqual(said.length, 1, stderr);
    assert.match(said[0]!, /^weft train: --precision bf16: this CPU has neither AMX nor AVX512-BF16, .*training in f32 \(--precision bf16-anywhere keeps bf16's numbers\)$/);
    assert.equal(line.precision, "f32");
    assert.equal(line.train_loss, f32.line.train_loss);
    assert.equal(line.val_loss, f32.line.val_loss);
  } else {
    assert.equal(line.precision, "bf16");
    assert.equal(line.bf16_path, path);
    assert.doesNotMatch(stderr, /--precision/);
    assertCloseButNotEqual(line.train_loss, f32.line.train_loss);
  }
});

test("--precision bf16-anywhere trains in bf16 on any CPU, close to f32's loss and not equal to it", () => {
  const { line } = train("--precision", "bf16-anywhere");
  assert.equal(line.precision, "bf16");
  assert.equal(line.bf16_path, bf16GemmPath());
  assertCloseButNotEqual(line.train_loss, f32.line.train_loss);
  assertCloseButNotEqual(line.val_loss, f32.line.val_loss);
});

test("--precision bf16-anywhere reaches every rank of a DDP job: bf16's loss, replicas still identical", () => {
  const f32Job = train("--workers", "2");
  const { line } = train("--workers", "2", "--precision", "bf16-anywhere");
  assert.equal(line.precision, "bf16");
  assert.equal(line.replicas_identical, true);
  assertCloseButNotEqual(line.train_loss, f32Job.line.train_loss);
});

test("--precision fp16 is refused in one line naming the choices", () => {
  const run = spawnSync(process.execPath, [weft, "train", "gpt-text", "--precision", "fp16"], { cwd: root, encoding: "utf8", timeout: 60_000 });
  assert.equal(run.status, 2);
  assert.equal(run.stdout, "");
  assert.match(run.stderr.trimEnd(), /^weft train gpt-text: --precision must be one of f32, bf16, bf16-anywhere, got "fp16"$/);
});
