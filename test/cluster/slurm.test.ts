// Weft under a real Slurm: a one-node cluster (munged, slurmctld, slurmd) started by this test
// (helpers/slurm-cluster.ts) and stopped in after() even when a test fails. Workers started by
// srun find their ranks in Slurm's environment with no weft launch (rank 0 serves the store);
// the batch script of docs/clusters.md, taken from the page, runs one weft launch per node under
// sbatch; --kill-on-bad-exit ends a step whose task was killed; and a worker with a missing
// variable or a rendezvous host that does not resolve fails at once with one line.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { expandHostList } from "../../src/distributed/rendezvous/host-list.js";
import { slurmMissing, startSlurm, type SlurmCluster } from "./helpers/slurm-cluster.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const worker = fileURLToPath(new URL("./helpers/slurm-mnist-worker.js", import.meta.url));
const missing = slurmMissing();
const secret = "0123456789abcdef0123456789abcdef";
let cluster: SlurmCluster | undefined;
let work = "";

// A test process stopped by a signal still stops its daemons (SIGKILL cannot be caught: the next
// start sweeps what it left, by the pid files).
const stopOnSignal = (): void => {
  cluster?.stop();
  process.exit(1);
};

before(async () => {
  if (missing !== undefined) return;
  process.once("SIGTERM", stopOnSignal).once("SIGINT", stopOnSignal);
  cluster = await startSlurm();
  work = mkdtempSync(join(tmpdir(), "weft-slurm-work-"));
});

after(() => {
  cluster?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
  process.off("SIGTERM", stopOnSignal).off("SIGINT", stopOnSignal);
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** When the command exited (ms epoch). */
  endedAt: number;
}

/** Runs a Slurm command against the test's cluster; killed after `limitMs`. */
function slurm(cmd: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}, limitMs = 60_000, onStdout?: (line: string) => void): Promise<Run> {
  const started = Date.now();
  const child = spawn(cmd, args, { cwd: work, env: { ...cluster!.env, WEFT_JOB_SECRET: secret, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let partial = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d;
    partial += d;
    const lines = partial.split("\n");
    partial = lines.pop()!;
    for (const l of lines) onStdout?.(l);
  });
  child.stderr.on("data", (d: Buffer) => (stderr += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
  return new Promise((resolve) => child.on("close", (code) => (clearTimeout(timer), resolve({ code, stdout, stderr, ms: Date.now() - started, endedAt: Date.now() }))));
}

const jsonLines = (text: string): Record<string, unknown>[] => text.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
/** What the tasks themselves printed on stderr: srun's own lines taken out. */
const taskLines = (stderr: string): string[] => stderr.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("srun:"));
const explain = (r: Run): string => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}\n${cluster?.logs() ?? ""}`;

test("Weft's host list parser agrees with scontrol show hostnames", { skip: missing }, () => {
  for (const list of ["node[01-03,07],gpu5", "rack[1-2]-n[8-9]", "n[098-101],login", cluster!.node]) {
    const r = spawnSync("scontrol", ["show", "hostnames", list], { env: cluster!.env, encoding: "utf8", timeout: 10_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(expandHostList(list), r.stdout.trim().split("\n"), list);
  }
});

let srunDigest: unknown;

test("srun -n 2 node worker.js: both tasks find their ranks in Slurm's environment, train MNIST, and end with one digest", { skip: missing }, async () => {
  const r = await slurm("srun", ["-n", "2", "--kill-on-bad-exit=1", process.execPath, worker]);
  assert.equal(r.code, 0, explain(r));
  const results = jsonLines(r.stdout).filter((l) => "digest" in l);
  assert.deepEqual(results.map((l) => l.rank).sort(), [0, 1], explain(r));
  for (const l of results) assert.deepEqual([l.worldSize, l.steps, l.transport], [2, 3, "shared-memory"]);
  assert.match(String(results[0]!.digest), /^[0-9a-f]{64}$/);
  assert.equal(results[0]!.digest, results[1]!.digest, "the two ranks' parameters differ");
  srunDigest = results[0]!.digest;
});

test("sbatch of the batch script in docs/clusters.md: one weft launch per node, two workers, the job completes", { skip: missing }, async () => {
  const doc = readFileSync(join(root, "docs", "clusters.md"), "utf8");
  const script = /<!-- slurm batch script -->\n```bash\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(script, "docs/clusters.md has no block after <!-- slurm batch script -->");
  writeFileSync(join(work, "train.sbatch"), script);
  // What the page asks of a user: `weft` on PATH and their train.js in the submit folder.
  const bin = join(work, "bin");
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, "weft"), `#!/bin/sh\nexec "${process.execPath}" "${join(root, "dist", "src", "cli", "main.js")}" "$@"\n`);
  chmodSync(join(bin, "weft"), 0o755);
  writeFileSync(join(work, "train.js"), `import ${JSON.stringify(worker)};\n`);
  const r = await slurm("sbatch", ["--wait", "train.sbatch"], { PATH: `${bin}:${process.env.PATH}` }, 90_000);
  const jobId = /Submitted batch job (\d+)/.exec(r.stdout)?.[1];
  const out = jobId ? readFileSync(join(work, `weft-${jobId}.out`), "utf8") : "";
  assert.equal(r.code, 0, `${explain(r)}\n--- weft-${jobId}.out\n${out}`);
  // The workers' lines are in their logs under runs/<job-id>/.
  const runs = join(work, "runs");
  const [runDir] = readdirSync(runs);
  const results = [0, 1].flatMap((rank) => jsonLines(readFileSync(join(runs, runDir!, `rank-${rank}.log`), "utf8")).filter((l) => "digest" in l));
  assert.deepEqual(results.map((l) => l.rank).sort(), [0, 1], out);
  assert.equal(results[0]!.digest, results[1]!.digest);
  // The same two workers, seeds and steps as srun alone: the same model.
  if (srunDigest !== undefined) assert.equal(results[0]!.digest, srunDigest);
});

test("a task killed under --kill-on-bad-exit=1 ends the step, and srun names the task", { skip: missing }, async () => {
  let killed: number | undefined;
  let killedAt = 0;
  const r = await slurm("srun", ["-n", "2", "--kill-on-bad-exit=1", process.execPath, worker], { MNIST_STEPS: "100000" }, 60_000, (line) => {
    const l = line.startsWith("{") ? (JSON.parse(line) as { rank?: number; pid?: number; joined?: boolean }) : {};
    if (l.joined && l.rank === 1 && killed === undefined) {
      killed = l.pid!;
      killedAt = Date.now();
      process.kill(killed, "SIGKILL");
    }
  });
  assert.ok(killed !== undefined, `task 1 never joined: ${explain(r)}`);
  assert.notEqual(r.code, 0, explain(r));
  assert.equal(r.code === null, false, `srun had to be killed by the test's deadline: ${explain(r)}`);
  // KillWait is 2 s in the test's slurm.conf: the step ends seconds after the kill, far from the 60 s deadline.
  assert.ok(r.endedAt - killedAt < 30_000, `the step ended ${r.endedAt - killedAt} ms after the kill`);
  assert.match(r.stderr, new RegExp(`srun: error: ${cluster!.node}: task 1: Killed`), explain(r));
  assert.equal(jsonLines(r.stdout).filter((l) => "digest" in l).length, 0, "a rank finished training although its peer was killed");
});

test("a worker without WEFT_JOB_SECRET, or without SLURM_NTASKS, stops at once with one line naming the variable", { skip: missing }, async () => {
  const noSecret = await slurm("srun", ["-n", "2", "env", "-u", "WEFT_JOB_SECRET", process.execPath, worker]);
  assert.notEqual(noSecret.code, 0);
  assert.deepEqual(taskLines(noSecret.stderr), [
    "slurm-mnist-worker: WEFT_JOB_SECRET is not set: with no weft launch there is no launcher to make the job secret: export the same one to every task before srun (export WEFT_JOB_SECRET=$(openssl rand -hex 32))",
    "slurm-mnist-worker: WEFT_JOB_SECRET is not set: with no weft launch there is no launcher to make the job secret: export the same one to every task before srun (export WEFT_JOB_SECRET=$(openssl rand -hex 32))",
  ], explain(noSecret));
  const noTasks = await slurm("srun", ["-n", "1", "env", "-u", "SLURM_NTASKS", "-u", "SLURM_STEP_NUM_TASKS", process.execPath, worker]);
  assert.notEqual(noTasks.code, 0);
  assert.deepEqual(taskLines(noTasks.stderr), [
    "slurm-mnist-worker: SLURM_STEP_NUM_TASKS (or SLURM_NTASKS) is not set: srun sets it for each task it starts: start the worker with srun (one task per worker), or set WEFT_WORLD_SIZE yourself",
  ], explain(noTasks));
});

test("a rendezvous host that does not resolve: both tasks stop at once with one line naming host:port", { skip: missing }, async () => {
  const r = await slurm("srun", ["-n", "2", process.execPath, worker], { WEFT_MASTER_ADDR: "no-such-node.invalid", WEFT_MASTER_PORT: "29555" });
  assert.notEqual(r.code, 0);
  const lines = taskLines(r.stderr).sort();
  assert.equal(lines.length, 2, explain(r));
  assert.match(lines[0]!, /^slurm-mnist-worker: rank 0 serves the rendezvous store on port 29555 but cannot reach it at no-such-node\.invalid:29555 \(.*ENOTFOUND.*\): rank 0 runs on the first node of SLURM_STEP_NODELIST unless WEFT_MASTER_ADDR says otherwise$/);
  assert.match(lines[1]!, /^slurm-mnist-worker: rank 1 cannot reach the rendezvous store at no-such-node\.invalid:29555 within 30 s \(.*ENOTFOUND.*\): check that rank 0 is running there/);
  // Not the 30 s a refused port would be waited for, nor the group's 60 s.
  assert.ok(r.ms < 20_000, `took ${r.ms} ms`);
});

/** The pid of the worker with launcher slot `slot` whose WEFT_RUN_DIR is `runDir`, from /proc; undefined while there is none. */
function workerPid(runDir: string, slot: number): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const vars = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      if (vars.includes(`WEFT_RUN_DIR=${runDir}`) && vars.includes(`WEFT_RANK=${slot}`)) return Number(entry);
    } catch {
      // A process that ended while we looked, or not ours to read.
    }
  }
  return undefined;
}

test("elastic under srun: a worker killed inside the Slurm task does not end the step when --min allows", { skip: missing }, async () => {
  const runDir = join(work, "elastic-run");
  let killed: number | undefined;
  const watch = setInterval(() => {
    if (killed !== undefined) return;
    // Once rank 1 has trained a few steps, so the loss happens mid-training.
    let steps = 0;
    try {
      steps = readFileSync(join(runDir, "rank-1.jsonl"), "utf8").split("\n").filter((l) => l.includes('"loss"')).length;
    } catch {
      return;
    }
    const pid = steps >= 3 ? workerPid(runDir, 1) : undefined;
    if (pid !== undefined) {
      killed = pid;
      process.kill(pid, "SIGKILL");
    }
  }, 100);
  const cli = join(root, "dist", "src", "cli", "main.js");
  const r = await slurm("srun", ["-n", "1", "--kill-on-bad-exit=1", process.execPath, cli, "train", "mnist", "--workers", "2", "--min", "1", "--net", "small", "--max-steps", "60", "--json", "--run-dir", runDir]);
  clearInterval(watch);
  assert.ok(killed !== undefined, `no worker was killed: ${explain(r)}`);
  assert.equal(r.code, 0, explain(r));
  assert.match(r.stderr, /rank 1 exited with signal SIGKILL; the others go on without it/, explain(r));
  const result = jsonLines(r.stdout).find((l) => "final_workers" in l);
  assert.deepEqual([result?.final_workers, result?.recoveries], [1, 1], explain(r));
});
