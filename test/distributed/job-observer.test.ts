// The launcher's events (Note [launcher events] in src/distributed/launch/job-observer.ts): every
// job leaves launcher-<node>.jsonl in its run folder, without the secret, and the observer sees
// the same events, the job as it starts, and its end before launchJob returns.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { JobObserver, LauncherEvent, RunningJob } from "../../src/distributed/launch/job-observer.js";
import { launchJob, type LaunchOptions } from "../../src/distributed/launch/launcher.js";
import { generateSecret } from "../../src/distributed/wire/secret.js";

function job(dir: string, exitCodes: number[], observer?: JobObserver): LaunchOptions {
  const script = join(dir, "worker.mjs");
  writeFileSync(script, `process.exit(${JSON.stringify(exitCodes)}[Number(process.env.WEFT_RANK)]);\n`);
  return {
    nproc: exitCodes.length, nnodes: 1, nodeRank: 0, rdzvHost: "127.0.0.1", rdzvPort: 0, secret: generateSecret(),
    script, args: ["--lr", "0.1"], runDir: join(dir, "run"), graceMs: 1000, liveMetrics: false, cpuBind: "none",
    onLine: () => {}, log: () => {}, ...(observer ? { observer } : {}),
  };
}

const eventsIn = (runDir: string): LauncherEvent[] => readFileSync(join(runDir, "launcher-0.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as LauncherEvent);

test("a job that succeeds: started, two workers started and exited, ended 0; the observer sees the same, and no secret is written", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-job-observer-"));
  try {
    const seen: LauncherEvent[] = [];
    let started: RunningJob | undefined;
    let endedWith: number | undefined;
    const o = job(dir, [0, 0], {
      jobStarted: (j) => void (started = j),
      event: (e) => void seen.push(e),
      jobEnded: async (code) => {
        await new Promise((r) => setTimeout(r, 50));
        endedWith = code;
      },
    });
    const result = await launchJob(o);
    assert.equal(result.exitCode, 0);
    assert.equal(endedWith, 0, "jobEnded was awaited before launchJob returned");
    assert.equal(started?.runDir, result.runDir);
    assert.equal(started?.secret, o.secret);
    const events = eventsIn(result.runDir);
    assert.deepEqual(seen, events, "the observer gets exactly the file's events");
    assert.deepEqual(events.map((e) => e.event).sort(), ["job_ended", "job_started", "worker_exited", "worker_exited", "worker_started", "worker_started"]);
    assert.equal(events[0]!.event, "job_started");
    assert.equal(events.at(-1)!.event, "job_ended");
    const config = (events[0] as Extract<LauncherEvent, { event: "job_started" }>).config;
    assert.deepEqual([config.job_id, config.nproc, config.world_size, config.args], [result.jobId, 2, 2, ["--lr", "0.1"]]);
    assert.ok(!readFileSync(join(result.runDir, "launcher-0.jsonl"), "utf8").includes(o.secret), "the secret is not in the file");
    const exits = events.filter((e): e is Extract<LauncherEvent, { event: "worker_exited" }> => e.event === "worker_exited");
    assert.deepEqual(exits.map((e) => [e.status, e.how]), [[0, "exited with code 0"], [0, "exited with code 0"]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a job whose rank 1 fails: its exit, the job stopping because of it, and the job's end with its status; without an observer too", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-job-observer-"));
  try {
    const result = await launchJob(job(dir, [0, 3]));
    assert.equal(result.exitCode, 3);
    const events = eventsIn(result.runDir);
    const failedExit = events.find((e) => e.event === "worker_exited" && e.rank === 1);
    assert.deepEqual(failedExit && [failedExit.event === "worker_exited" && failedExit.status], [3]);
    const stopping = events.filter((e) => e.event === "job_stopping").map((e) => (e.event === "job_stopping" ? e.why : ""));
    assert.equal(stopping.length, 1, JSON.stringify(events));
    assert.match(stopping[0]!, /^rank 1 \(pid \d+\) exited with code 3$/);
    assert.deepEqual(events.at(-1) && { ...events.at(-1)!, time: 0 }, { time: 0, event: "job_ended", exit_code: 3 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an observer that throws does not stop the job", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-job-observer-"));
  try {
    const logs: string[] = [];
    const o = { ...job(dir, [0]), log: (m: string) => void logs.push(m), observer: { jobStarted() { throw new Error("observer bug"); }, event() { throw new Error("observer bug"); }, jobEnded: async () => { throw new Error("late bug"); } } };
    const result = await launchJob(o);
    assert.equal(result.exitCode, 0);
    assert.ok(logs.some((l) => /the job's observer failed: observer bug; the job goes on without it/.test(l)), logs.join("\n"));
    assert.ok(logs.some((l) => /the job's observer failed at the end: late bug/.test(l)), logs.join("\n"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
