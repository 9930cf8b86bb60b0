// The dashboard from the command line: `weft dashboard` over a finished run folder and over a
// `weft compare` report folder (its runs listed and linked), until Ctrl-C; `--dashboard` on
// `weft launch`, printing its address on one line; and the command lines refused with one line.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

function weftRun(args: string[], cwd = root): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [weft, ...args], { cwd, encoding: "utf8", timeout: 60_000 });
}

/** Starts `weft dashboard`, hands its address to `use`, then stops it with SIGINT; returns its exit code. */
async function withDashboard(args: string[], use: (url: string) => Promise<void>): Promise<number | null> {
  const p = spawn(process.execPath, [weft, "dashboard", ...args], { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise<number | null>((resolve) => p.on("close", resolve));
  let stderr = "";
  const url = await new Promise<string>((resolve, reject) => {
    p.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      const m = / at (http:\/\/127\.0\.0\.1:\d+\/) \(Ctrl-C stops\)\n/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`weft dashboard exited: ${stderr}`)));
  });
  try {
    await use(url);
  } finally {
    p.kill("SIGINT");
  }
  return exited;
}

function writeRun(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "launcher-0.jsonl"), `${JSON.stringify({ time: 1, event: "job_started", config: { job_id: "j7", run_dir: dir, node_rank: 0, nproc: 1, nnodes: 1, world_size: 1, script: "s.js", args: [] } })}\n`);
  writeFileSync(join(dir, "rank-0.jsonl"), [1, 2].map((step) => `${JSON.stringify({ rank: 0, time: step, step, loss: 1 })}\n`).join(""));
}

test("weft dashboard RUN_DIR serves a finished run until Ctrl-C", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-dashboard-cmd-"));
  try {
    writeRun(join(dir, "run"));
    const code = await withDashboard([join(dir, "run")], async (url) => {
      const state = (await (await fetch(`${url}state`)).json()) as { config: { job_id: string }; workers: { step: number }[] };
      assert.equal(state.config.job_id, "j7");
      assert.deepEqual(state.workers.map((w) => w.step), [2]);
      assert.equal((await fetch(`${url}control/stop`, { method: "POST" })).status, 404, "no job to control");
    });
    assert.equal(code, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("weft dashboard over a compare report lists its configurations and links each run's dashboard", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-dashboard-cmd-"));
  try {
    writeRun(join(dir, "runs", "1-workers-2"));
    writeFileSync(join(dir, "results.json"), JSON.stringify({
      recipe: "mnist", configs: [
        { label: "workers=2", status: "ok", exit_code: 0, run_dir: "runs/1-workers-2" },
        { label: "workers=1", status: "ok", exit_code: 0 },
      ],
    }));
    await withDashboard([dir], async (url) => {
      const index = await (await fetch(url)).text();
      assert.match(index, /<a href="\/runs\/0\/">workers=2<\/a>/);
      assert.match(index, /<td>workers=1<\/td><td>ok, exit code 0 \(no run folder/);
      assert.equal((await fetch(`${url}runs/1/`)).status, 404);
      const state = (await (await fetch(`${url}runs/0/state`)).json()) as { title: string; config: { job_id: string } };
      assert.deepEqual([state.title, state.config.job_id], ["weft compare mnist: workers=2", "j7"]);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("weft launch --dashboard prints the page's address on one line, and the run folder keeps the launcher's events", () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-dashboard-cmd-"));
  try {
    writeFileSync(join(dir, "w.mjs"), "console.log('hi');\n");
    const r = weftRun(["launch", "--nproc", "2", "--cpu-bind", "none", "--run-dir", join(dir, "run"), "--dashboard", join(dir, "w.mjs")]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^weft launch: dashboard at http:\/\/127\.0\.0\.1:\d+\/$/m);
    const events = readFileSync(join(dir, "run", "launcher-0.jsonl"), "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { event: string }).event);
    assert.equal(events.filter((e) => e === "worker_exited").length, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a running job's dashboard: control without the secret is refused, with it the job stops; both are in the launcher's events", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-dashboard-cmd-"));
  try {
    // A worker that would run for a minute: only the stop request ends it.
    writeFileSync(join(dir, "w.mjs"), "setTimeout(() => {}, 60_000);\n");
    const secret = "s".repeat(40);
    const p = spawn(process.execPath, [weft, "launch", "--nproc", "2", "--cpu-bind", "none", "--grace-ms", "1000", "--run-dir", join(dir, "run"), "--dashboard", "0", join(dir, "w.mjs")], {
      cwd: root, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, WEFT_JOB_SECRET: secret },
    });
    const exited = new Promise<number | null>((resolve) => p.on("close", resolve));
    let stderr = "";
    const url = await new Promise<string>((resolve) => p.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      const m = /dashboard at (http:\/\/127\.0\.0\.1:\d+\/)\n/.exec(stderr);
      if (m) resolve(m[1]!);
    }));
    try {
      assert.equal((await fetch(`${url}control/stop`, { method: "POST" })).status, 401);
      assert.equal((await fetch(`${url}control/stop`, { method: "POST", headers: { Authorization: `Bearer ${"x".repeat(40)}` } })).status, 401);
      const ok = await fetch(`${url}control/stop`, { method: "POST", headers: { Authorization: `Bearer ${secret}` } });
      assert.deepEqual([ok.status, await ok.json()], [200, { ok: true, message: "stopping the job" }]);
    } finally {
      const code = await Promise.race([exited, new Promise<"hung">((r) => setTimeout(() => r("hung"), 15_000))]);
      if (code === "hung") p.kill("SIGKILL");
      assert.equal(code, 130, `the job stops as on Ctrl-C: ${stderr}`);
    }
    const events = readFileSync(join(dir, "run", "launcher-0.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { event: string; action?: string; ok?: boolean; why?: string });
    const control = events.filter((e) => e.event === "control");
    assert.ok(control.some((e) => e.action === "stop" && e.ok === true), JSON.stringify(control));
    assert.ok(control.some((e) => e.action === "refused" && e.ok === false && /secret/.test(e.why ?? "")), JSON.stringify(control));
    assert.ok(events.some((e) => e.event === "job_stopping" && /stopped from the dashboard/.test(e.why ?? "")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("command lines the dashboard refuses, each with one line", () => {
  const cases: [string[], RegExp][] = [
    [["dashboard"], /^weft dashboard: which run\? give a run folder/],
    [["dashboard", "/no/such/folder"], /^weft dashboard: \/no\/such\/folder is not a folder/],
    [["dashboard", root + "docs"], /holds no run: no rank-<r>\.jsonl, launcher-<n>\.jsonl or results\.json/],
    [["dashboard", "x", "--port", "70000"], /--port must be an integer from 0 to 65535/],
    [["train", "mnist", "--dashboard"], /--dashboard shows a job of several workers: add --workers 2 or more/],
    [["launch", "--dashboard-host", "0.0.0.0", "w.js"], /--dashboard-host says where the dashboard listens: give --dashboard \[PORT\] too/],
  ];
  for (const [args, expected] of cases) {
    const r = weftRun(args);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, expected);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
});
