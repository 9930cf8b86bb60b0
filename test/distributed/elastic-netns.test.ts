// Elastic training across three "machines" (network namespaces on a switch): the machine whose
// link is cut is left out by heartbeat silence within seconds, the other two finish in place with
// identical replicas, and the cut-off worker stops with a message saying it cannot reach the store.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateSecret } from "../../src/distributed/wire/secret.js";
import type { TrainJob } from "../../src/cli/train-job.js";
import { launchInNamespace, makeMachines, netnsUnavailable, type Machines } from "./helpers/netns-switch.js";
import { stepsWritten, waitForSteps } from "./helpers/job-workers.js";

const worker = fileURLToPath(new URL("../../src/cli/train-worker.js", import.meta.url));

/** One elastic MNIST worker on each machine, node 0 (machine 0) serving the store; the launchers' outcomes. */
function startJob(m: Machines, runDir: (i: number) => string): Promise<{ code: number | null; out: string }>[] {
  const job: TrainJob = {
    recipe: "mnist", strategy: "ddp", strategyOptions: {}, workers: 3, elastic: { min: 2, max: 3, maxRestarts: 0 },
    settings: { epochs: 1, maxSteps: 60, seed: 0, batch: 64, lr: 2e-3, options: { shift: 2, "warmup-steps": 100 } },
  };
  const port = String(20000 + Math.floor(Math.random() * 20000));
  const env = { ...process.env, WEFT_JOB_SECRET: generateSecret() };
  return m.ns.map((ns, i) =>
    launchInNamespace(ns, ["--nnodes", "3", "--node-rank", String(i), "--nproc", "1", "--rdzv", `${m.addr[0]}:${port}`, "--min", "2", "--max", "3",
      "--no-metrics", "--run-dir", runDir(i), "--grace-ms", "2000", worker, JSON.stringify(job)], env));
}

const lines = (file: string): Record<string, unknown>[] =>
  existsSync(file) ? readFileSync(file, "utf8").split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>) : [];

test("a machine cut off mid-run: the other two re-form without it and finish identical; it stops, saying why", { skip: netnsUnavailable() }, async () => {
  const m = makeMachines(3);
  const dir = mkdtempSync(join(tmpdir(), "weft-elastic-netns-"));
  try {
    const runDir = (i: number) => join(dir, `m${i}`);
    const launchers = startJob(m, runDir);
    // Cut machine 2 once its worker is training.
    const deadline = Date.now() + 120_000;
    while (stepsWritten(runDir(2), 2) < 8) {
      assert.ok(Date.now() < deadline, "machine 2's worker never reached step 8");
      await new Promise((r) => setTimeout(r, 20));
    }
    const cutAt = Date.now();
    m.cut(2);
    const [a, b, c] = await Promise.all(launchers);
    assert.equal(a!.code, 0, a!.out);
    assert.equal(b!.code, 0, b!.out);
    assert.notEqual(c!.code, 0, "the cut-off machine's job part fails");
    assert.match(c!.out, /cannot reach the rendezvous store at .* to re-form the group/);
    assert.match(`${a!.out}${b!.out}`, /lost the connection to rank 2 \(silent for \d+ ms/);

    // Generation 1 of w0 and w1, formed within seconds of the cut, with equal state digests.
    const events = [...lines(join(runDir(0), "rank-0.jsonl")), ...lines(join(runDir(1), "rank-1.jsonl"))];
    const formed = events.filter((e) => e.event === "generation_formed" && e.generation === 1);
    assert.equal(formed.length, 2, JSON.stringify(events.filter((e) => e.event)));
    for (const f of formed) {
      assert.deepEqual([...(f.members as string[])].sort(), ["w0", "w1"]);
      assert.ok((f.time as number) - cutAt < 6000, `re-formed ${(f.time as number) - cutAt} ms after the cut`);
    }
    const digests = events.filter((e) => e.event === "state_synced" && e.generation === 1).map((e) => e.digest);
    assert.equal(digests.length, 2);
    assert.equal(digests[0], digests[1]);
    const reports = ["w0", "w1"].map((w, i) => JSON.parse(readFileSync(join(runDir(i), `report-${w}.json`), "utf8")) as { digest: string });
    assert.equal(reports[0]!.digest, reports[1]!.digest, "replicas identical at the end");
  } finally {
    m.remove();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(!m.leftBehind(), "namespaces left behind");
});

test("machine 0's worker SIGKILLed: its launcher keeps serving the store, and the other two finish identical", { skip: netnsUnavailable() }, async () => {
  const m = makeMachines(3);
  const dir = mkdtempSync(join(tmpdir(), "weft-elastic-netns0-"));
  try {
    const runDir = (i: number) => join(dir, `m${i}`);
    const launchers = startJob(m, runDir);
    process.kill(await waitForSteps(runDir(0), 0, 8, 120_000), "SIGKILL");
    const [a, b, c] = await Promise.all(launchers);
    assert.equal(b!.code, 0, b!.out);
    assert.equal(c!.code, 0, c!.out);
    assert.match(a!.out, /serving the job's store until the other machines finish/);
    const reports = ["w1", "w2"].map((w, i) => JSON.parse(readFileSync(join(runDir(i + 1), `report-${w}.json`), "utf8")) as { digest: string });
    assert.equal(reports[0]!.digest, reports[1]!.digest, "replicas identical at the end");
  } finally {
    m.remove();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(!m.leftBehind(), "namespaces left behind");
});
