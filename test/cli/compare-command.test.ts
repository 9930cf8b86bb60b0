// `weft compare` end to end, with real training on a tiny budget: two configurations run through
// `weft train`, and the report folder holds their table, curves and run folders; a configuration
// past its time limit is stopped with its workers and marked, and the comparison goes on.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

function weftRun(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [weft, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** Processes whose environment names `dir` (the launcher gives every worker WEFT_RUN_DIR). */
function processesUsing(dir: string): number[] {
  return readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/environ`, "latin1").includes(dir);
    } catch {
      return false;
    }
  }).map(Number);
}

test("weft compare mnist --grid strategy=single,ddp trains both and writes the table, the CSV, the JSON and a page with a curve for each", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-compare-"));
  try {
    const out = join(dir, "report");
    const run = await weftRun(["compare", "mnist", "--grid", "strategy=single,ddp", "--set", "max-steps=6", "--set", "epochs=1", "--out", out, "--json"]);
    assert.equal(run.status, 0, run.stderr);
    // Progress: a line as each configuration starts and finishes.
    assert.match(run.stderr, /^\[1\/2\] strategy=single: started: weft train mnist --strategy single --max-steps 6 --epochs 1 /m);
    assert.match(run.stderr, /^\[2\/2\] strategy=ddp: ok in [\d.]+ s \(test_accuracy [\d.]+%, training [\d.]+ s\)$/m);
    // The table on stdout, then the summary line last.
    const lines = run.stdout.trim().split("\n");
    assert.match(lines[0]!, /^configuration +status +test_accuracy +wall time \(s\)/);
    assert.match(lines[2]!, /^strategy=single +ok +\d+\.\d\d%/);
    assert.match(lines[3]!, /^strategy=ddp +ok +\d+\.\d\d%/);
    const summary = JSON.parse(lines.at(-1)!) as { finished: number; report: string; results: { label: string; status: string; test_accuracy: number; steps: number; run_dir: string }[] };
    assert.equal(summary.finished, 2);
    assert.deepEqual(summary.results.map((r) => [r.label, r.status, r.steps]), [["strategy=single", "ok", 6], ["strategy=ddp", "ok", 6]]);
    for (const r of summary.results) assert.ok(r.test_accuracy > 0.1 && r.test_accuracy <= 1, String(r.test_accuracy));

    // The folder: the report, and each configuration's run folder (its metrics) and log.
    assert.deepEqual(readdirSync(out).sort(), ["logs", "report.html", "results.csv", "results.json", "runs"]);
    assert.deepEqual(readdirSync(join(out, "runs")).sort(), ["1-strategy-single", "2-strategy-ddp"]);
    for (const r of summary.results) assert.ok(existsSync(join(r.run_dir, "rank-0.jsonl")), `${r.label}: metrics in ${r.run_dir}`);
    assert.match(readFileSync(join(out, "logs", "1-strategy-single.log"), "utf8"), /"recipe":"mnist"/);

    const csv = readFileSync(join(out, "results.csv"), "utf8").trim().split("\r\n");
    assert.equal(csv.length, 3);
    assert.match(csv[0]!, /^configuration,status,test_accuracy,wall_s,time_to_target_s,bytes_sent_per_worker,/);
    const json = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as { configs: { curves: { loss: unknown[]; metric: unknown[] } }[] };
    for (const c of json.configs) {
      assert.equal(c.curves.loss.length, 6, "a loss point per step");
      assert.ok(c.curves.metric.length >= 1, "the metric at least at the end");
    }
    const page = readFileSync(summary.report, "utf8");
    assert.equal((page.match(/<tr data-config=/g) ?? []).length, 2);
    for (const chart of ["metric-time", "loss-step", "loss-time"]) {
      const figure = new RegExp(`<figure class="chart" data-chart="${chart}" data-lines="(\\d+)">([\\s\\S]*?)</figure>`).exec(page);
      assert.ok(figure, chart);
      assert.equal(figure[1], "2", chart);
      assert.equal((figure[2]!.match(/aria-roledescription="line mark"/g) ?? []).length, 2, `${chart}: a curve per configuration`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a configuration past --time-limit is stopped with its workers, marked timed out, and the comparison still reports", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-compare-"));
  try {
    const out = join(dir, "report");
    // One quick configuration in this process, and one on two workers (a launcher and its workers to stop) that cannot finish in time.
    const grid = join(dir, "grid.json");
    writeFileSync(grid, JSON.stringify({ configs: [{ strategy: "single", "max-steps": 1 }, { strategy: "ddp", workers: 2, "max-steps": 100000 }] }));
    const run = await weftRun(["compare", "mnist", "--config", grid, "--time-limit", "6", "--out", out]);
    assert.equal(run.status, 1, "not every configuration finished");
    assert.match(run.stderr, /^\[1\/2\] strategy=single max-steps=1: ok in /m);
    assert.match(run.stderr, /^\[2\/2\] strategy=ddp max-steps=100000 workers=2: timed out after [\d.]+ s: ran past --time-limit 6 s$/m);
    assert.match(run.stdout, /^strategy=ddp max-steps=100000 workers=2 +timed out +— /m);
    assert.deepEqual(processesUsing(join(out, "runs")), [], "no worker of the stopped run is left");
    const csv = readFileSync(join(out, "results.csv"), "utf8").trim().split("\r\n");
    assert.match(csv[2]!, /^strategy=ddp max-steps=100000 workers=2,timed out,.*,ran past --time-limit 6 s$/);
    // What the stopped run managed is still drawn.
    const json = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as { configs: { status: string; curves: { loss: unknown[] } }[] };
    assert.ok(json.configs[1]!.curves.loss.length > 0, "the stopped run's losses so far");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an --out folder that already holds something is refused before anything runs", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-compare-"));
  try {
    const run = await weftRun(["compare", "mnist", "--grid", "seed=1,2", "--out", join(root, "src")]);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /^weft compare: --out .*src is not empty; give a new or empty folder/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
