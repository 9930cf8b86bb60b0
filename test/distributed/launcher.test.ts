// `weft launch`: environment, prefixes, process titles, failure handling and metrics summary.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { allowedCpus, planCpuShares } from "../../src/distributed/base/cpu-binding.js";
import { launchJob, type LaunchOptions } from "../../src/distributed/launch/launcher.js";
import { parseLaunchArgs } from "../../src/cli/launch-args.js";
import { generateSecret } from "../../src/distributed/wire/secret.js";

const worker = fileURLToPath(new URL("./workers/launch-worker.js", import.meta.url));

function options(mode: string, extra: Partial<LaunchOptions> = {}): LaunchOptions & { lines: [number, string, string][]; logs: string[] } {
  const lines: [number, string, string][] = [];
  const logs: string[] = [];
  const runDir = join(tmpdir(), `weft-launch-test-${process.pid}-${Math.random().toString(36).slice(2)}`);
  return {
    nproc: 3, nnodes: 1, nodeRank: 0, rdzvHost: "127.0.0.1", rdzvPort: 0, secret: generateSecret(),
    script: worker, args: [mode], runDir, graceMs: 1000, liveMetrics: false,
    onLine: (rank, stream, line) => lines.push([rank, stream, line]),
    log: (m) => logs.push(m),
    lines, logs, ...extra,
  };
}

/**
 * Tells an "env wait-seen" worker that the test has read its /proc entries, so it may exit: the
 * worker stays alive until then, however late the launcher hands the test its line.
 */
function releaseWorker(runDir: string, rank: number): void {
  writeFileSync(join(runDir, `seen-${rank}`), "");
}

test("workers get rank, world size, run dir and secret; their title is `weft worker <rank>` in /proc", async () => {
  const o = options("env", {
    args: ["env", "wait-seen"],
    onLine: (rank, stream, line) => {
      o.lines.push([rank, stream, line]);
      if (line.startsWith("{")) {
        const { pid } = JSON.parse(line) as { pid: number };
        // Seen from outside the worker, as ps and top see it.
        o.lines.push([rank, "proc", readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0+$/, "") + "|" + readFileSync(`/proc/${pid}/comm`, "utf8").trim()]);
        releaseWorker(o.runDir!, rank);
      }
    },
  });
  const result = await launchJob(o);
  assert.equal(result.exitCode, 0, o.logs.join("\n"));
  for (let rank = 0; rank < 3; rank++) {
    const mine = o.lines.filter(([r]) => r === rank);
    const info = JSON.parse(mine.find(([, s, l]) => s === "stdout" && l.startsWith("{"))![2]);
    assert.deepEqual([info.rank, info.worldSize, info.localRank, info.runDir, info.secretLength], [rank, 3, rank, o.runDir, 64]);
    assert.equal(info.title, `weft worker ${rank}`);
    assert.ok(mine.some(([, s, l]) => s === "proc" && l === `weft worker ${rank}|weft worker ${rank}`), JSON.stringify(mine));
    assert.ok(mine.some(([, s, l]) => s === "stderr" && l === `stderr line of rank ${rank}`));
    assert.ok(mine.some(([, s, l]) => s === "stdout" && l === "a last line without newline"));
  }
  rmSync(o.runDir!, { recursive: true, force: true });
});

/** The CPUs each thread of `pid` may run on, as the kernel reports them ("0", "0-1", "0,2"). */
function threadCpuLists(pid: number): string[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8"))![1]!);
}

for (const bind of ["cores", "none"] as const) {
  test(`--cpu-bind ${bind}: ${bind === "cores" ? "each worker and all its threads get their own share of the CPUs" : "workers keep every CPU"}`, async () => {
    const seen = new Map<number, { cpus: number[] | null; threads: string[]; execArgv: string[] }>();
    const o = options("env", {
      nproc: 2,
      cpuBind: bind,
      args: ["env", "wait-seen"],
      onLine: (rank, _stream, line) => {
        if (!line.startsWith("{")) return;
        const { pid, cpus, execArgv } = JSON.parse(line) as { pid: number; cpus: number[] | null; execArgv: string[] };
        seen.set(rank, { cpus, threads: threadCpuLists(pid), execArgv });
        releaseWorker(o.runDir!, rank);
      },
    });
    const result = await launchJob(o);
    assert.equal(result.exitCode, 0, o.logs.join("\n"));
    const all = allowedCpus()!;
    const shares = bind === "cores" ? planCpuShares(all, 2) : null;
    if (bind === "cores" && shares === null) assert.match(o.logs.join("\n"), /not binding workers to CPUs: 2 workers share 1 CPUs/);
    for (const rank of [0, 1]) {
      const { cpus, threads, execArgv } = seen.get(rank)!;
      assert.deepEqual(cpus, shares?.[rank] ?? null);
      // A worker alone on one CPU collects garbage on its main thread (nodeFlagsFor in worker-command.ts).
      assert.equal(execArgv.includes("--single-threaded-gc"), shares?.[rank]?.length === 1, `rank ${rank}: ${execArgv.join(" ")}`);
      assert.ok(threads.length >= 2, "a Node process has several threads");
      const expected = shares?.[rank] ?? all;
      for (const list of threads) assert.deepEqual(cpuList(list), expected, `rank ${rank}: a thread allows ${list}`);
    }
    rmSync(o.runDir!, { recursive: true, force: true });
  });
}

function cpuList(text: string): number[] {
  return text.split(",").flatMap((part) => {
    const [a, b] = part.split("-").map(Number) as [number, number | undefined];
    return Array.from({ length: (b ?? a) - a + 1 }, (_, i) => a + i);
  });
}

test("a store port in use, and a node that cannot reach node 0's store, fail with what to do", async () => {
  const blocker = createServer().listen(0, "127.0.0.1");
  await once(blocker, "listening");
  const port = (blocker.address() as AddressInfo).port;
  try {
    await assert.rejects(launchJob(options("env", { rdzvPort: port })), new RegExp(`port ${port} on 127.0.0.1 is already in use, so this node cannot serve the job's store: pick another --rdzv port`));
  } finally {
    blocker.close();
  }
  // Node 0's store is not reachable: port 1 (tcpmux) on loopback, where nothing listens and which
  // no other test can take (binding it needs privileges; ephemeral ports never land there), unlike
  // the blocker's port, which any process may bind again once it is closed.
  const o = options("env", { nnodes: 2, nodeRank: 1, rdzvPort: 1, rdzvTimeoutMs: 1000 });
  const t0 = Date.now();
  await assert.rejects(launchJob(o), /could not connect to the store at 127\.0\.0\.1:\d+: .*ECONNREFUSED.*; is the launcher of node 0 \(--node-rank 0\) running with the same --rdzv/);
  assert.ok(Date.now() - t0 >= 900, "it should retry until the rendezvous timeout");
});

test("workers of a launcher killed with SIGKILL stop by themselves", async () => {
  const cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
  // Its own run directory, not runs/ in the checkout that other runs share.
  const runDir = mkdtempSync(join(tmpdir(), "weft-orphans-"));
  const launcher = spawn(process.execPath, [cli, "launch", "--nproc", "2", "--no-metrics", "--run-dir", runDir, worker, "sleep"], { stdio: ["ignore", "pipe", "pipe"] });
  let pids: number[] = [];
  let out = "";
  launcher.stdout!.setEncoding("utf8").on("data", (d: string) => {
    out += d;
    // From everything read so far: a chunk may end in the middle of a pid.
    pids = [...out.matchAll(/"pid":(\d+)\}/g)].map((m) => Number(m[1]));
  });
  try {
    // Deadlines here only bound a failing run: starting two workers, and their noticing the
    // launcher is gone, take a second or two even on a loaded machine.
    const t0 = Date.now();
    while (pids.length < 2) {
      assert.ok(Date.now() - t0 < 120_000, `workers did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    launcher.kill("SIGKILL");
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return !readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.startsWith("Z");
      } catch {
        return false;
      }
    };
    const t1 = Date.now();
    while (pids.some(alive) && Date.now() - t1 < 60_000) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(pids.filter(alive), [], "workers outlived their launcher");
  } finally {
    launcher.kill("SIGKILL");
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    rmSync(runDir, { recursive: true, force: true });
  }
});

test("a failing worker stops the job promptly with its exit status and last lines", async () => {
  const o = options("fail");
  const t0 = Date.now();
  const result = await launchJob(o);
  const took = Date.now() - t0;
  assert.equal(result.exitCode, 3);
  assert.equal(result.failed?.rank, 1);
  assert.equal(result.failed?.tail.length, 20);
  assert.equal(result.failed?.tail.at(-1), "fatal: something broke");
  // The others would sleep for 60 s: done in under half of that, they were stopped, however slow
  // the machine (it takes a second or two).
  assert.ok(took < 30_000, `the others were not stopped promptly (${took} ms)`);
  const report = o.logs.join("\n");
  assert.match(report, /rank 1 \(pid \d+\) exited with code 3; stopping ranks 0, 2/);
  assert.match(report, /failed: rank 1 exited with status 3; its last lines:\n(.|\n)*\[1\] fatal: something broke/);
  rmSync(o.runDir!, { recursive: true, force: true });
});

test("the launcher summarises the workers' metrics per step and at the end", async () => {
  const o = options("metrics", { nproc: 2, liveMetrics: true });
  const result = await launchJob(o);
  assert.equal(result.exitCode, 0);
  const rows = readFileSync(join(o.runDir!, "rank-1.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((r) => [r.rank, r.step, r.loss]), [[1, 0, 2], [1, 1, 1], [1, 2, 0]]);
  const logs = o.logs.join("\n");
  assert.match(logs, /step 2 \| loss 0\.0000 \| 200 samples\/s \| compute 10\.5 ms comm 2\.0 ms wait 1\.0 ms \| slowest rank 1/);
  assert.match(logs, /3 steps, final loss 0\.0000, 200 samples\/s/);
  rmSync(o.runDir!, { recursive: true, force: true });
});

test("the launcher names the rank the others wait for, in the step lines, the job's summary and its result", async () => {
  const o = options("straggler", { liveMetrics: true });
  const result = await launchJob(o);
  assert.equal(result.exitCode, 0);
  const logs = o.logs.join("\n");
  assert.match(logs, /job .*: 6 steps, .*; straggler rank 1 \(the others wait 30\.0 ms per step for it\)/);
  assert.deepEqual([result.straggler?.rank, result.straggler?.score_ms], [1, 30]);
  // And in the job's event stream, once: it is named once, and stays the same rank.
  const named = readFileSync(join(o.runDir!, "launcher-0.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((e) => e.event === "straggler");
  assert.deepEqual(named.map((e) => [e.rank, e.score_ms]), [[1, 30]]);
  rmSync(o.runDir!, { recursive: true, force: true });
});

test("the command line: script arguments pass through, multi-node needs --rdzv and a secret", () => {
  const o = parseLaunchArgs(["--nproc", "2", "train.js", "--lr", "0.1"], {})!;
  assert.deepEqual([o.nproc, o.script, o.args, o.secret.length], [2, "train.js", ["--lr", "0.1"], 64]);
  assert.throws(() => parseLaunchArgs(["--nnodes", "2", "--node-rank", "1", "t.js"], {}), /--rdzv HOST:PORT/);
  assert.throws(() => parseLaunchArgs(["--nnodes", "2", "--rdzv", "10.0.0.1:29500", "t.js"], {}), /shared secret/);
  const multi = parseLaunchArgs(["--nnodes=2", "--node-rank=1", "--rdzv=10.0.0.1:29500", "t.js"], { WEFT_JOB_SECRET: "0123456789abcdef0123" })!;
  assert.deepEqual([multi.rdzvHost, multi.rdzvPort, multi.nodeRank, multi.secret], ["10.0.0.1", 29500, 1, "0123456789abcdef0123"]);
  assert.equal(parseLaunchArgs(["--help"], {}), undefined);
  assert.throws(() => parseLaunchArgs(["--bogus", "t.js"], {}), /unknown option --bogus/);
  assert.equal(parseLaunchArgs(["t.js"], {})!.cpuBind, "cores");
  assert.equal(parseLaunchArgs(["--rdzv-timeout", "5", "t.js"], {})!.rdzvTimeoutMs, 5000);
  assert.equal(parseLaunchArgs(["--cpu-bind", "none", "t.js"], {})!.cpuBind, "none");
  assert.throws(() => parseLaunchArgs(["--cpu-bind=threads", "t.js"], {}), /--cpu-bind must be one of cores, none, got "threads"/);
});

test("runLaunch prints `[rank] ` prefixes on the real stdout and refuses a missing script", () => {
  const entry = fileURLToPath(new URL("../../src/cli/run-launch.js", import.meta.url));
  const code = `import("${entry}").then(async (m) => process.exit(await m.runLaunch(process.argv.slice(1))))`;
  const ok = spawnSync(process.execPath, ["--input-type=module", "-e", code, "--", "--nproc", "2", "--no-metrics", "--run-dir", join(tmpdir(), `weft-rl-${process.pid}`), worker, "env"], { encoding: "utf8" });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^\[0\] \{"rank":0/m);
  assert.match(ok.stdout, /^\[1\] \{"rank":1/m);
  assert.match(ok.stderr, /^\[1\] stderr line of rank 1$/m);
  const ts = spawnSync(process.execPath, ["--input-type=module", "-e", code, "--", "train.ts"], { encoding: "utf8" });
  assert.equal(ts.status, 1);
  assert.match(ts.stderr, /weft launch: no such script: train\.ts/);
  rmSync(join(tmpdir(), `weft-rl-${process.pid}`), { recursive: true, force: true });
});
