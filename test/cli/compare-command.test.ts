// `weft compare` end to end, with real training on a tiny budget: two configurations run through
// `weft train`, and the report folder holds their table, curves and run folders, with paths that
// still work once the folder is moved; a configuration past its time limit is stopped with its
// workers and marked, and the comparison goes on; a signal to compare stops every process of the
// running configuration, and the report of what finished is still written.
//
// No test here asserts how fast anything runs: a configuration meant to time out has far more
// steps than any machine trains in its limit, whatever runs beside it, and the deadlines below
// (HANG_MS, GONE_MS) only turn a hang into a failure.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

/** How long a weft command may run before it counts as hung (a deadline for a hang, not a measure of speed). */
const HANG_MS = 600_000;
/** How long the processes of a stopped configuration may take to be gone, ditto. */
const GONE_MS = 120_000;

interface Running {
  child: ChildProcess;
  /** What it printed so far. */
  out: { stdout: string; stderr: string };
  /** Its exit status and everything it printed, once it has exited. */
  done: Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  exited: boolean;
}

function weftStart(args: string[], cwd = root): Running {
  const child = spawn(process.execPath, [weft, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  const out = { stdout: "", stderr: "" };
  child.stdout!.on("data", (d: Buffer) => (out.stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out.stderr += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), HANG_MS);
  const running: Running = {
    child, out, exited: false,
    done: new Promise((resolve) => {
      child.on("close", (status, signal) => {
        clearTimeout(timer);
        running.exited = true;
        resolve({ status, signal, ...out });
      });
    }),
  };
  return running;
}

function weftRun(args: string[], cwd = root): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return weftStart(args, cwd).done;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `ready` until it holds; fails after `deadlineMs`, or when `running` exits first. */
async function waitFor(what: string, ready: () => boolean, deadlineMs: number, running?: Running): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!ready()) {
    if (running?.exited) assert.fail(`weft exited before ${what}:\n${running.out.stderr}`);
    if (Date.now() > end) assert.fail(`no ${what} after ${deadlineMs / 1000} s${running ? `:\n${running.out.stderr}` : ""}`);
    await sleep(100);
  }
}

/** Every process as /proc/<pid>/stat has it: its parent, its process group and its state (Z for a zombie). */
function processTable(): { pid: number; ppid: number; pgid: number; state: string }[] {
  return readdirSync("/proc").filter((p) => /^\d+$/.test(p)).flatMap((pid) => {
    try {
      // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so read after the last ")".
      const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
      const [state, ppid, pgid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return [{ pid: Number(pid), ppid: Number(ppid), pgid: Number(pgid), state: state! }];
    } catch {
      return [];
    }
  });
}

/** The live (not zombie) processes of process group `pgid`. */
const liveMembers = (pgid: number): number[] => processTable().filter((p) => p.pgid === pgid && p.state !== "Z").map((p) => p.pid);

/** Whether process group `pgid` is gone: no process left in it (kill(-pgid, 0) fails), or none but zombies not yet reaped. */
function groupGone(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return true;
    throw err;
  }
  return liveMembers(pgid).length === 0;
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
    // --out relative to the working folder: then nothing in the report names this machine's folders.
    // The peer benchmark's smaller network: 6 steps take it past chance, which the deeper default's warm-up does not.
    const run = await weftRun(["compare", "mnist", "--grid", "strategy=single,ddp", "--set", "max-steps=6", "--set", "epochs=1", "--set", "net=small", "--out", "report", "--json"], dir);
    assert.equal(run.status, 0, run.stderr);
    // Progress: a line as each configuration starts and finishes.
    assert.match(run.stderr, /^\[1\/2\] strategy=single: started: weft train mnist --strategy single --max-steps 6 --epochs 1 --net small /m);
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

    // Paths in the report are relative to its folder: no file of it names the folder it was written in.
    for (const file of ["report.html", "results.csv", "results.json"]) {
      const text = readFileSync(join(out, file), "utf8");
      assert.ok(!text.includes(dir), `${file} names ${dir}: ${text.slice(Math.max(0, text.indexOf(dir) - 200), text.indexOf(dir) + 200)}`);
    }
    type Stored = { id: string; argv: string[]; run_dir: string; log_file: string; result: { run_dir: string } };
    const stored = (JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as { configs: Stored[] }).configs;
    for (const c of stored) {
      assert.equal(c.run_dir, `runs/${c.id}`);
      assert.equal(c.result.run_dir, `runs/${c.id}`);
      assert.equal(c.log_file, `logs/${c.id}.log`);
      assert.deepEqual(c.argv.slice(-3), ["--run-dir", `runs/${c.id}`, "--json"]);
      assert.ok(page.includes(`--run-dir runs/${c.id} --json</pre>`), `the page shows ${c.id}'s command with its relative --run-dir`);
    }
    assert.match(page, /with its <code>--run-dir<\/code> relative to this report's folder/);
    assert.equal(csv[1]!.split(",").at(-2), "runs/1-strategy-single", "results.csv's run_dir");

    // Moved elsewhere, the folder still works: its run folders, logs and the page's links are found from where it is now.
    const moved = join(dir, "elsewhere", "moved-report");
    mkdirSync(dirname(moved));
    renameSync(out, moved);
    for (const c of stored) {
      assert.ok(existsSync(join(moved, c.run_dir, "rank-0.jsonl")), `${c.id}: ${c.run_dir}`);
      assert.ok(existsSync(join(moved, c.log_file)), `${c.id}: ${c.log_file}`);
    }
    const links = [...readFileSync(join(moved, "report.html"), "utf8").matchAll(/<a href="([^"]+)">/g)].map((m) => decodeURIComponent(m[1]!));
    assert.equal(links.length, 4, "a run folder and a log per configuration");
    for (const link of links) assert.ok(existsSync(join(moved, link)), `the page's link ${link}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a configuration past --time-limit is stopped with its workers, marked timed out, and the next one still runs", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-compare-"));
  try {
    const out = join(dir, "report");
    // First a configuration on two workers (a launcher and its workers to stop) with far more steps than any machine
    // trains in the limit; then a short one, which only has to start after it: whether it then finishes in the same
    // limit depends on the machine, so either outcome is accepted.
    const grid = join(dir, "grid.json");
    writeFileSync(grid, JSON.stringify({ configs: [{ strategy: "ddp", workers: 2, "max-steps": 100000 }, { strategy: "single", "max-steps": 1 }] }));
    const run = await weftRun(["compare", "mnist", "--config", grid, "--time-limit", "6", "--out", out]);
    assert.equal(run.status, 1, `not every configuration finished:\n${run.stderr}`);
    const timedOut = /^\[1\/2\] strategy=ddp workers=2 max-steps=100000: timed out after [\d.]+ s: ran past --time-limit 6 s$/m.exec(run.stderr);
    assert.ok(timedOut, run.stderr);
    const next = /^\[2\/2\] strategy=single max-steps=1: started: /m.exec(run.stderr);
    assert.ok(next && next.index > timedOut.index, `the next configuration started after the time-out:\n${run.stderr}`);
    assert.match(run.stderr, /^\[2\/2\] strategy=single max-steps=1: (ok in |timed out after )/m);
    assert.match(run.stdout, /^strategy=ddp workers=2 max-steps=100000 +timed out +— /m);
    assert.match(run.stdout, /^strategy=single max-steps=1 +(ok|timed out) /m);
    await waitFor("end of the stopped run's workers", () => processesUsing(join(out, "runs")).length === 0, GONE_MS);
    const csv = readFileSync(join(out, "results.csv"), "utf8").trim().split("\r\n");
    assert.match(csv[1]!, /^strategy=ddp workers=2 max-steps=100000,timed out,.*,ran past --time-limit 6 s$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// A signal to compare, once or twice: the running configuration's whole process group (weft train, its launcher and
// workers, in a group of their own that the signal does not reach) is gone once compare has exited, and the report
// says which configurations were stopped and draws what the stopped one managed.
for (const signals of [["SIGHUP"], ["SIGTERM", "SIGTERM"]] as const) {
  test(`${signals.join(", then ")} to weft compare stops every process of the running configuration and still writes the report`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "weft-compare-"));
    let pgid: number | undefined;
    try {
      const out = join(dir, "report");
      const grid = join(dir, "grid.json");
      writeFileSync(grid, JSON.stringify({ configs: [{ strategy: "ddp", workers: 2, "max-steps": 100000 }, { strategy: "single", "max-steps": 1 }] }));
      const compare = weftStart(["compare", "mnist", "--config", grid, "--out", out]);
      // Until the workers have taken a step (rank 0's metrics say so): there is a launcher and workers to stop, and losses to draw.
      const metrics = join(out, "runs", "1-strategy-ddp-workers-2-max-steps-100000", "rank-0.jsonl");
      await waitFor("training step", () => existsSync(metrics) && /"step":\d+/.test(readFileSync(metrics, "utf8")), HANG_MS, compare);
      const train = processTable().find((p) => p.ppid === compare.child.pid);
      assert.ok(train, "weft train runs under weft compare");
      pgid = train.pgid;
      assert.notEqual(pgid, processTable().find((p) => p.pid === compare.child.pid)!.pgid, "a process group of its own");
      assert.ok(liveMembers(pgid).length >= 3, `weft train and its two workers in the group: ${liveMembers(pgid).join(", ")}`);

      compare.child.kill(signals[0]);
      if (signals.length > 1) {
        // The second only once compare has taken the first (two signals sent at once may arrive as one).
        await waitFor("word of the first signal", () => compare.out.stderr.includes(`weft compare: ${signals[0]}: stopping`), HANG_MS, compare);
        compare.child.kill(signals[1]);
        await waitFor("word of the second signal", () => compare.out.stderr.includes(`weft compare: ${signals[1]} again: killing`) || compare.exited, HANG_MS);
      }
      const run = await compare.done;
      const group = pgid;
      await waitFor(`end of process group ${group} after weft compare exited`, () => groupGone(group), GONE_MS);
      const number = { SIGHUP: 1, SIGTERM: 15 }[signals[0]];
      assert.equal(run.status, 128 + number, run.stderr);
      assert.deepEqual(processesUsing(join(out, "runs")), [], "no worker of the stopped run is left");

      assert.match(run.stderr, new RegExp(`^\\[1/2\\] strategy=ddp workers=2 max-steps=100000: interrupted after [\\d.]+ s: stopped by ${signals[0]}$`, "m"));
      assert.match(run.stdout, /^strategy=ddp workers=2 max-steps=100000 +interrupted\b/m);
      assert.match(run.stdout, /^strategy=single max-steps=1 +interrupted\b/m, "the next configuration never started");
      const json = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as { configs: { status: string; error?: string; curves: { loss: unknown[] } }[] };
      assert.deepEqual(json.configs.map((c) => c.status), ["interrupted", "interrupted"]);
      assert.equal(json.configs[0]!.error, `stopped by ${signals[0]}`);
      assert.ok(json.configs[0]!.curves.loss.length > 0, "the stopped run's losses so far are drawn");
    } finally {
      // Whatever failed, no training is left behind on the machine.
      if (pgid !== undefined && !groupGone(pgid)) process.kill(-pgid, "SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

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
