// The rendezvous in a 3-member etcd cluster, one member on each of three "machines" (network
// namespaces on a switch), one worker each. Cutting off machine 0, the one whose launcher started
// first and which would serve the embedded store, takes one worker and one etcd member away at
// once: the other two workers re-form through the remaining etcd quorum and finish identical.
// And with no etcd member answering, the launcher stops at once with one line naming them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateSecret } from "../../src/distributed/wire/secret.js";
import type { TrainJob } from "../../src/cli/train-job.js";
import { launchInNamespace, makeMachines, netnsUnavailable } from "./helpers/netns-switch.js";
import { stepsWritten } from "./helpers/job-workers.js";
import { etcdMissing } from "./helpers/etcd-cluster.js";

const worker = fileURLToPath(new URL("../../src/cli/train-worker.js", import.meta.url));
const weft = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const skip = netnsUnavailable() ?? etcdMissing();


test("etcd in 3 namespaces: losing the first machine (a worker and an etcd member) leaves the other two training to the end", { skip }, async () => {
  const m = makeMachines(3);
  const dir = mkdtempSync(join(tmpdir(), "weft-etcd-netns-"));
  const members: ChildProcess[] = [];
  try {
    const cluster = m.addr.map((a, i) => `e${i}=http://${a}:2380`).join(",");
    m.ns.forEach((ns, i) => {
      members.push(spawn("ip", ["netns", "exec", ns, "etcd", "--name", `e${i}`, "--data-dir", join(dir, `etcd-${i}`),
        "--listen-client-urls", `http://${m.addr[i]}:2379`, "--advertise-client-urls", `http://${m.addr[i]}:2379`,
        "--listen-peer-urls", `http://${m.addr[i]}:2380`, "--initial-advertise-peer-urls", `http://${m.addr[i]}:2380`,
        "--initial-cluster", cluster, "--initial-cluster-state", "new", "--initial-cluster-token", `weft-${process.pid}`,
        "--heartbeat-interval", "50", "--election-timeout", "500", "--log-level", "warn", "--logger", "zap"], { stdio: "ignore" }));
    });
    const job: TrainJob = {
      recipe: "mnist", strategy: "ddp", strategyOptions: {}, workers: 3, elastic: { min: 2, max: 3, maxRestarts: 0 },
      settings: { epochs: 1, maxSteps: 60, seed: 0, batch: 64, lr: 2e-3, options: { shift: 2, "warmup-steps": 100 } },
    };
    const env = { ...process.env, WEFT_JOB_SECRET: generateSecret() };
    const rdzv = `etcd://${m.addr.map((a) => `${a}:2379`).join(",")}`;
    const runDir = (i: number) => join(dir, `m${i}`);
    const launchers = m.ns.map((ns, i) =>
      launchInNamespace(ns, ["--nnodes", "3", "--node-rank", String(i), "--nproc", "1", "--rdzv", rdzv, "--rdzv-id", "etcd-netns-test", "--min", "2", "--max", "3",
        "--no-metrics", "--run-dir", runDir(i), "--grace-ms", "2000", worker, JSON.stringify(job)], env));
    const deadline = Date.now() + 120_000;
    while (stepsWritten(runDir(0), 0) < 8) {
      assert.ok(Date.now() < deadline, "machine 0's worker never reached step 8");
      await new Promise((r) => setTimeout(r, 20));
    }
    m.cut(0);
    const [a, b, c] = await Promise.all(launchers);
    assert.equal(b!.code, 0, b!.out);
    assert.equal(c!.code, 0, c!.out);
    assert.notEqual(a!.code, 0);
    assert.match(a!.out, /cannot reach the rendezvous store at etcd /);
    const resultDir = [runDir(1), runDir(2)].find((d) => existsSync(join(d, "result.json")))!;
    const result = JSON.parse(readFileSync(join(resultDir, "result.json"), "utf8")) as { final_members: string[]; recoveries: number; final_workers: number };
    assert.deepEqual([...result.final_members].sort(), ["w1", "w2"]);
    assert.equal(result.final_workers, 2);
    const digests = [1, 2].map((i) => readdirSync(runDir(i)).filter((f) => f.startsWith("report-w")).map((f) => (JSON.parse(readFileSync(join(runDir(i), f), "utf8")) as { digest: string }).digest)).flat();
    assert.equal(digests.length, 2);
    assert.equal(digests[0], digests[1], "replicas identical at the end");
  } finally {
    for (const p of members) p.kill("SIGKILL");
    m.remove();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(!m.leftBehind(), "namespaces left behind");
});

test("no etcd member answering: weft launch stops within its deadline, naming every endpoint", { skip: etcdMissing() }, () => {
  const t0 = Date.now();
  const run = spawnSync(process.execPath, [weft, "launch", "--rdzv", "etcd://127.0.0.1:1,127.0.0.1:3", "--rdzv-timeout", "3", "--nproc", "1", worker], { encoding: "utf8", timeout: 60_000 });
  assert.equal(run.status, 1, run.stderr);
  assert.match(run.stderr, /etcd at 127\.0\.0\.1:1, 127\.0\.0\.1:3 did not answer within \d+ ms/);
  assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
  assert.ok(Date.now() - t0 < 20_000, `took ${Date.now() - t0} ms`);
});
