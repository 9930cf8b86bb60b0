// `weft diagnose` end to end through `weft launch`, over TCP and through shared memory: rank 1
// never calls the fifth all-reduce (#4: collectives count from 0, as in every error message), the
// others fail at their 2 s deadline, the launcher has rank 1 write its flight record before
// stopping it, and the report names the collective, rank 1 as absent and its last completed
// collective. Then a rank that calls all-gather where the other calls all-reduce: both fail in
// under a second, each naming both sides, and diagnose names rank 1 as having called the other.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type { FlightReport } from "../../src/distributed/diagnostics/flight-report.js";

const WEFT = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const WORKER = fileURLToPath(new URL("../distributed/workers/flight-worker.js", import.meta.url));

function weft(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [WEFT, ...args], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

for (const [transport, shm] of [["tcp", "0"], ["shared memory", "1"]] as const) {
  test(`over ${transport}: rank 1 never calls all-reduce #4; diagnose names it, rank 1 as absent, and rank 1's last completed collective`, () => {
    const dir = mkdtempSync(join(tmpdir(), "weft-diagnose-"));
    try {
      const job = weft(["launch", "--nproc", "2", "--run-dir", dir, "--no-metrics", WORKER, "skip"], { WEFT_SHM: shm });
      assert.equal(job.code, 1, job.stderr);
      assert.match(job.stderr, /rank 0 failed .*all-reduce #4 did not finish within 2000 ms: rank 1 never arrived/);

      const text = weft(["diagnose", dir]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /flight records from ranks 0, 1/);
      assert.match(text.stdout, /^stuck: all-reduce #4 \(collective 5 of group world#0; 1000 floats\)/m);
      assert.match(text.stdout, /^  in it: rank 0, failed: CollectiveTimeoutError: all-reduce #4 did not finish/m);
      assert.match(text.stdout, /^  never entered: rank 1; its last completed collective was all-reduce #3 /m);
      assert.match(text.stdout, /^rank 1 .*record written on SIGUSR1; last: all-reduce #3, completed/m);

      const json = weft(["diagnose", dir, "--json"]);
      const report = JSON.parse(json.stdout) as FlightReport;
      assert.deepEqual([report.stuck?.op, report.stuck?.seq, report.stuck?.group], ["all-reduce", 4, "world#0"]);
      assert.deepEqual(report.stuck?.entered.map((e) => [e.rank, e.record.state]), [[0, "failed"]]);
      assert.deepEqual(report.stuck?.absent.map((a) => [a.rank, a.lastCompleted?.op, a.lastCompleted?.seq]), [[1, "all-reduce", 3]]);
      assert.deepEqual(report.missing, []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("a rank calling all-gather where the other calls all-reduce: both fail at once naming both sides, and diagnose names who called what", () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-diagnose-"));
  try {
    const job = weft(["launch", "--nproc", "2", "--run-dir", dir, "--no-metrics", WORKER, "mismatch"], { WEFT_SHM: "0" });
    assert.equal(job.code, 1);
    // From the ranks' logs: the launcher shows only the first failure live, the others' ends are its echo.
    const lines = [0, 1].flatMap((r) => readFileSync(join(dir, `rank-${r}.log`), "utf8").split("\n").filter((l) => l.startsWith("{")))
      .map((l) => JSON.parse(l) as { rank: number; ms: number; name: string; message: string });
    assert.deepEqual(lines.map((l) => l.rank), [0, 1], `every rank reports its failure: ${job.stdout}${job.stderr}`);
    for (const l of lines) {
      assert.equal(l.name, "CollectiveMismatchError");
      assert.match(l.message, /rank [01] called (all-reduce|all-gather), rank [01] called (all-gather|all-reduce)/);
      assert.ok(/all-reduce/.test(l.message) && /all-gather/.test(l.message), l.message);
      assert.ok(l.ms < 1000, `rank ${l.rank} took ${l.ms} ms to learn of the mismatch`);
    }
    const report = JSON.parse(weft(["diagnose", dir, "--json"]).stdout) as FlightReport;
    const stuck = report.stuck!;
    assert.equal(stuck.seq, 1, "the barrier before it was collective #0");
    const sides = new Map([...stuck.entered.map((e) => [e.rank, e.record.op] as const), ...stuck.calledOther.map((c) => [c.rank, c.record.op] as const)]);
    assert.deepEqual([sides.get(0), sides.get(1)], ["all-reduce", "all-gather"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a folder without flight records says what to do, in one line", () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-diagnose-"));
  try {
    const r = weft(["diagnose", dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^weft diagnose: .* holds no flight record .*kill -USR1 <pid>.*\n$/);
    const missing = weft(["diagnose", join(dir, "nope")]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^weft diagnose: .*nope does not exist; give the run folder of a job[^\n]*\n$/);
    writeFileSync(join(dir, "flight-0.json"), '{"rank": 0, "records": [');
    const cut = weft(["diagnose", dir]);
    assert.equal(cut.code, 2);
    assert.match(cut.stderr, /flight-0\.json is not a flight record .*delete it and diagnose the others/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
