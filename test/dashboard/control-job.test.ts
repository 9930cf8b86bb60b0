// The control endpoints on a real job: `weft train mnist --workers 2 --dashboard 0`, with the
// request sent to the dashboard the launcher serves (Note [control access] in
// src/dashboard/control.ts, Note [checkpoint now] in src/distributed/launch/checkpoint-request.ts).
//  - A checkpoint asked for with the job secret is written at the step the answer announces, by
//    both workers of a sharded (ZeRO) run, so the set is whole; without the secret it is refused.
//  - 1,000 malformed or oversized requests (garbage, huge headers, huge bodies, connections left
//    half open) sent while training runs: the job completes, and good requests are still
//    answered. (What the flood costs the step time is a benchmark, BENCHMARKS.md, not asserted.)
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");
const SECRET = "5ec2e7-5ec2e7-5ec2e7-5ec2e7-5ec2e7";

interface Job {
  url: URL;
  runDir: string;
  /** Resolves with the exit code and everything the job printed on stderr. */
  done: Promise<{ code: number | null; stderr: string }>;
}

/** Starts a 2-worker MNIST job with a dashboard; resolves once both workers' fit loops listen for requests. */
async function startJob(dir: string, extra: string[]): Promise<Job> {
  const runDir = join(dir, "run");
  const p = spawn(process.execPath, [weft, "train", "mnist", "--workers", "2", "--net", "small", "--run-dir", runDir, "--dashboard", "0", "--json", ...extra], {
    cwd: dir, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, WEFT_JOB_SECRET: SECRET },
  });
  let stderr = "";
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => p.on("close", (code) => resolve({ code, stderr })));
  const url = await new Promise<URL>((resolve, reject) => {
    p.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      const m = /dashboard at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr);
      if (m) resolve(new URL(m[1]!));
    });
    void done.then(() => reject(new Error(`the job ended before its dashboard listened:\n${stderr}`)));
  });
  for (const deadline = Date.now() + 20_000; ![0, 1].every((r) => existsSync(join(runDir, `checkpoint-listener-${r}.json`))); ) {
    if (Date.now() > deadline) throw new Error(`the workers never started training:\n${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url, runDir, done };
}

function post(url: URL, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: path.startsWith("/control/") ? "POST" : "GET", headers }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d: string) => (body += d)).on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject).end();
  });
}

const withSecret = { Authorization: `Bearer ${SECRET}` };

test("a checkpoint asked for with the secret is written at the announced step by both ZeRO workers; without the secret it is refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-control-job-"));
  try {
    const checkpoints = join(dir, "checkpoints");
    const job = await startJob(dir, ["--strategy", "zero", "--keep", "2", "--checkpoint-dir", checkpoints, "--max-steps", "400"]);
    const refused = await post(job.url, "/control/checkpoint");
    assert.equal(refused.status, 401);
    const wrong = await post(job.url, "/control/checkpoint", { Authorization: "Bearer not-the-job-secret-0000" });
    assert.equal(wrong.status, 401);
    const asked = await post(job.url, "/control/checkpoint", withSecret);
    assert.equal(asked.status, 200, asked.body);
    const step = Number(/at step (\d+)/.exec(JSON.parse(asked.body).message as string)?.[1]);
    assert.ok(step > 0 && step < 400, asked.body);
    const { code, stderr } = await job.done;
    assert.equal(code, 0, stderr);
    // Both shards of that step, beside the final checkpoint's (--keep 2).
    const files = readdirSync(checkpoints).sort();
    assert.deepEqual(files.filter((f) => f.startsWith(`step-${step}`)).length, 2, `no whole set at step ${step}: ${files.join(", ")}`);
    const events = readFileSync(join(job.runDir, "launcher-0.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const controls = events.filter((e) => e.event === "control");
    assert.ok(controls.some((e) => e.action === "checkpoint" && e.ok === true && new RegExp(`checkpoint at step ${step} was written \\(rank 0, 1\\)`).test(String(e.why))), JSON.stringify(controls));
    assert.ok(controls.some((e) => e.ok === false && /no job secret/.test(String(e.why))), "the refusal is recorded");
    assert.match(stderr, /dashboard control: refused a request from 127\.0\.0\.1:\d+: POST \/control\/checkpoint: no job secret/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** One malformed or oversized request of kind `i % 5`; resolves when the server has closed it (or it was left half open). */
function badRequest(url: URL, i: number, held: Socket[]): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(Number(url.port), url.hostname);
    s.on("error", () => resolve());
    s.on("close", () => resolve());
    s.on("data", () => {});
    const host = `Host: ${url.host}\r\n`;
    switch (i % 5) {
      case 0: // garbage
        s.end(Buffer.from(Array.from({ length: 512 }, (_, k) => (k * 7919 + i) % 256)));
        break;
      case 1: // headers far over the limit
        s.end(`GET /state HTTP/1.1\r\n${host}X-Pad: ${"a".repeat(64 * 1024)}\r\n\r\n`);
        break;
      case 2: // a body far over the limit, announced
        s.write(`POST /control/checkpoint HTTP/1.1\r\n${host}Authorization: Bearer ${SECRET}\r\nContent-Length: ${64 << 20}\r\n\r\n`);
        s.end(Buffer.alloc(64 * 1024, 0x62));
        break;
      case 3: // a body far over the limit, chunked, without the secret
        s.write(`POST /control/stop HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n`);
        s.end(`10000\r\n${"c".repeat(0x10000)}\r\n0\r\n\r\n`);
        break;
      default: // half open: a request line and nothing more; the server's header deadline closes it
        s.write(`POST /control/stop HTTP/1.1\r\n${host}`);
        held.push(s);
        resolve();
    }
  });
}

test("1,000 malformed or oversized requests while a job trains: it completes, and good requests are still answered", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-control-flood-"));
  const held: Socket[] = [];
  try {
    const job = await startJob(dir, ["--max-steps", "300"]);
    // Fifty at a time, like a careless or hostile client, not one huge burst the OS refuses itself.
    for (let i = 0; i < 1000; i += 50) await Promise.all(Array.from({ length: 50 }, (_, k) => badRequest(job.url, i + k, held)));
    const state = await post(job.url, "/state");
    assert.equal(state.status, 200);
    // A good control request is answered too: this job writes no checkpoints, and says so.
    const asked = await post(job.url, "/control/checkpoint", withSecret);
    assert.equal(asked.status, 409, asked.body);
    assert.match(JSON.parse(asked.body).error as string, /writes no checkpoints: start it with --checkpoint-dir DIR/);
    const { code, stderr } = await job.done;
    assert.equal(code, 0, stderr);
    assert.ok(existsSync(join(job.runDir, "result.json")), "the job wrote its result");
    // The refusals were summed up, not written one per request.
    const refusalLines = stderr.split("\n").filter((l) => /dashboard control: refused/.test(l));
    assert.ok(refusalLines.length >= 1 && refusalLines.length < 100, `${refusalLines.length} refusal lines`);
  } finally {
    for (const s of held) s.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("POST /control/stop with the secret stops the job as Ctrl-C would, and says who asked", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-control-stop-"));
  try {
    const job = await startJob(dir, ["--max-steps", "100000"]);
    assert.equal((await post(job.url, "/control/stop")).status, 401);
    const stopped = await post(job.url, "/control/stop", withSecret);
    assert.equal(stopped.status, 200, stopped.body);
    const { code, stderr } = await job.done;
    assert.notEqual(code, 0, "an interrupted job is no success");
    const events = readFileSync(join(job.runDir, "launcher-0.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(events.some((e) => e.event === "control" && e.action === "stop" && e.ok === true && /^dashboard 127\.0\.0\.1:\d+$/.test(String(e.from))), JSON.stringify(events));
    assert.ok(events.some((e) => e.event === "job_stopping" && /dashboard/.test(String(e.why))), stderr);
    assert.equal(existsSync(join(job.runDir, "result.json")), false, "it stopped long before its 100,000 steps");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
