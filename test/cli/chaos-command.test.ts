// `weft chaos` as a user runs it: a short MNIST run with two faults, reported with no hang and no
// digest disagreement; and its one-line refusals.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

test("weft chaos: a kill and a freeze on 3 workers, recovered in place, digests agreeing", () => {
  const out = mkdtempSync(join(tmpdir(), "weft-chaos-"));
  try {
    // Both faults come within about 4 s of the first step; 250 steps (about 30 ms each here, more
    // on a loaded machine) keep training going past them, so they land mid-run, not after the last step.
    const run = spawnSync(process.execPath, [weft, "chaos", "mnist", "--workers", "3", "--faults", "kill,stop", "--every", "1.5", "--count", "2",
      "--chaos-seed", "3", "--out", out, "--no-baseline", "--json", "--max-steps", "250"], { cwd: root, encoding: "utf8", timeout: 240_000 });
    assert.equal(run.status, 0, run.stderr);
    const report = JSON.parse(run.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
    assert.deepEqual(report, JSON.parse(readFileSync(join(out, "chaos-report.json"), "utf8")));
    assert.equal(report.hangs, 0);
    assert.equal(report.digest_disagreements, 0);
    assert.ok((report.faults_injected as number) >= 1, run.stderr);
    assert.ok((report.reformations as number) >= 1, run.stderr);
    assert.ok((report.final_workers as number) >= 2, "the job finished in place");
    const faults = report.faults as { detect_ms?: number }[];
    assert.ok(faults.every((f) => f.detect_ms === undefined || f.detect_ms < 10_000), JSON.stringify(faults));
    assert.match(run.stderr, /weft chaos: \d fault\(s\), \d+ re-formation\(s\), 0 hang\(s\), 0 digest disagreement\(s\)/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("weft chaos refuses what it cannot do in one line", () => {
  const usage = (...args: string[]) => {
    const run = spawnSync(process.execPath, [weft, "chaos", ...args], { cwd: root, encoding: "utf8", timeout: 30_000 });
    assert.equal(run.status, 2, run.stderr);
    return run.stderr.trim();
  };
  assert.match(usage("mnist", "--faults", "cut"), /--faults takes kill, stop \(a cut network needs workers in separate network namespaces/);
  assert.match(usage("mnist", "--min", "2"), /--min is set by weft chaos itself/);
  assert.match(usage("nope"), /unknown recipe "nope"/);
});
