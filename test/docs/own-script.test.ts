// docs/your-own-script.md, followed as a newcomer would: its script is written to train.ts in an
// empty folder that depends on this checkout as "weft", started with `weft launch --nproc 2
// train.ts` (TypeScript, not compiled), then started again with a larger budget, when it must
// resume from the checkpoint the first run wrote. (test/docs/examples.test.ts runs the same
// script once more as a plain one-rank program.)
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

function guideScript(): string {
  const text = readFileSync(join(root, "docs/your-own-script.md"), "utf8");
  const m = /<!-- guide: train\.ts -->\n```ts\n([\s\S]*?)```/.exec(text);
  assert.ok(m, "docs/your-own-script.md has no <!-- guide: train.ts --> block");
  return m[1]!;
}

test("the guide's train.ts runs under weft launch --nproc 2 and resumes from its checkpoint", () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-guide-"));
  try {
    mkdirSync(join(dir, "node_modules"));
    symlinkSync(root, join(dir, "node_modules", "weft"), "dir");
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "my-model", type: "module", private: true }));
    writeFileSync(join(dir, "train.ts"), guideScript());
    const launch = (...args: string[]) =>
      spawnSync(process.execPath, [weft, "launch", "--nproc", "2", "--no-metrics", "train.ts", ...args], { cwd: dir, encoding: "utf8", timeout: 180_000 });
    const first = launch();
    assert.equal(first.status, 0, `first run failed:\n${first.stdout}\n${first.stderr}`);
    const line = /^\[0\] trained to step (\d+) \((\d+) in this run\) on 2 worker\(s\): .* test accuracy ([\d.]+)/m.exec(first.stdout);
    assert.ok(line, `no result line from rank 0:\n${first.stdout}`);
    assert.doesNotMatch(first.stdout, /^\[1\] trained/m, "only rank 0 logs");
    assert.ok(existsSync(join(dir, "checkpoint.safetensors")));
    const steps = Number(line[1]);
    // 2,048 points, 32 per batch per rank, 2 ranks, 4 epochs.
    assert.equal(steps, (2048 / 64) * 4);
    const second = launch("6");
    assert.equal(second.status, 0, `resumed run failed:\n${second.stdout}\n${second.stderr}`);
    // Resumed: only the two new epochs were trained in the second run.
    assert.match(second.stdout, new RegExp(`^\\[0\\] trained to step ${(2048 / 64) * 6} \\(${(2048 / 64) * 2} in this run\\) on 2 worker`, "m"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
