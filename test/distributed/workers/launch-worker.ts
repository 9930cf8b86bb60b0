// A worker for the launcher tests. Modes: "env" (report environment, pid, title; with "wait-seen",
// stay alive until the test has looked at /proc), "fail" (rank 1
// exits with status 3 after a few lines, the others would run for a long time), "sleep" (report
// the pid, then run for a minute), "metrics", "straggler" (six steps in which the others wait
// 30 ms for rank 1 and rank 1 waits for nobody).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { initWorker } from "../../../src/distributed/group/init.js";
import { MetricsWriter } from "../../../src/distributed/metrics/metrics-writer.js";

const mode = process.argv[2];
const w = initWorker();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

if (mode === "env") {
  console.log(JSON.stringify({ rank: w.rank, worldSize: w.worldSize, localRank: w.localRank, runDir: w.runDir, pid: process.pid, title: process.title, secretLength: w.secret.length, cpus: w.cpus, execArgv: process.execArgv }));
  console.error(`stderr line of rank ${w.rank}`);
  process.stdout.write("a last line without newline");
  if (process.argv[3] === "wait-seen") {
    // The test reads /proc/<pid> when it gets the line above, then writes seen-<rank>: stay alive
    // until then rather than for a guessed time (the launcher may hand the line over late).
    const seen = join(w.runDir, `seen-${w.rank}`);
    for (const t0 = Date.now(); !existsSync(seen) && Date.now() - t0 < 120_000; ) await sleep(10);
  }
} else if (mode === "fail") {
  if (w.rank === 1) {
    for (let i = 0; i < 30; i++) console.log(`line ${i}`);
    console.error("fatal: something broke");
    process.exit(3);
  }
  await sleep(60_000);
} else if (mode === "sleep") {
  console.log(JSON.stringify({ rank: w.rank, pid: process.pid }));
  await sleep(60_000);
} else if (mode === "metrics") {
  const m = new MetricsWriter();
  for (let step = 0; step < 3; step++) {
    m.write({ step, loss: 2 - step, samples_per_s: 100, compute_ms: 10 + w.rank, comm_ms: 2, wait_ms: 1 });
    await sleep(50);
  }
  m.close();
} else if (mode === "straggler") {
  const m = new MetricsWriter();
  const peers = [0, 1, 2].filter((p) => p !== w.rank);
  for (let step = 0; step < 6; step++) {
    const waitFor = Object.fromEntries(peers.map((p) => [String(p), w.rank !== 1 && p === 1 ? 30 : 0.1]));
    m.write({ step, loss: 1, samples_per_s: 100, compute_ms: 10, comm_ms: 2, wait_ms: 1, wait_for: waitFor });
    await sleep(50);
  }
  m.close();
}
