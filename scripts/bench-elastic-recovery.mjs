#!/usr/bin/env node
// How long an elastic job takes to go on after a fault (docs/elastic.md). Each run trains MNIST on
// 3 workers with --min 2 and, once the victim (slot run % 3) has taken 8 steps, injects one fault:
//   kill  SIGKILL (its links close)
//   stop  SIGSTOP (silence; SIGCONT at the end of the run)
//   cut   the victim's machine's link goes down (3 network namespaces on a switch, one worker each;
//         needs root)
// and reads the survivors' metrics: detect_ms is from the fault to the first survivor's failed
// collective, first_step_ms from the fault to the first step of the new generation. Also runs the
// job without faults beside a CPU hog (a busy loop on every core) and counts re-formations, which
// must be 0. Prints one JSON line per fault kind, and one for the hog runs:
//   {"fault":"kill","runs":10,"first_step_ms_median":...,"first_step_ms_p90":...,"first_step_ms":[...],"detect_ms_median":...}
//
//   node scripts/bench-elastic-recovery.mjs [--runs 10] [--faults kill,stop,cut] [--hog-runs 3]
//
// Needs `npm run build` first.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { runs: { type: "string", default: "10" }, faults: { type: "string", default: "kill,stop,cut" }, "hog-runs": { type: "string", default: "3" } } });
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const weft = join(root, "dist/src/cli/main.js");
const dist = (p) => import(pathToFileURL(join(root, "dist", p)).href);
const { jobProcesses } = await dist("src/cli/job-processes.js");
const { makeMachines, netnsUnavailable } = await dist("test/distributed/helpers/netns-switch.js");
const { generateSecret } = await dist("src/distributed/wire/secret.js");

const readLines = (dir) => existsSync(dir)
  ? readdirSync(dir).filter((f) => /^rank-\d+\.jsonl$/.test(f)).flatMap((f) => readFileSync(join(dir, f), "utf8").split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)))
  : [];
const steps = (dir, slot) => readLines(dir).filter((l) => l.rank === slot && typeof l.loss === "number").length;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (v, q) => { const s = [...v].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };
const med = (v) => { const s = [...v].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

function run(cmd, args, env = process.env) {
  const child = spawn(cmd, args, { env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const done = new Promise((r) => child.on("close", (code) => r({ code, out })));
  const guard = setTimeout(() => { try { process.kill(-child.pid, "SIGKILL"); } catch {} }, 240_000);
  return { child, done: done.finally(() => clearTimeout(guard)) };
}

/** Times after the fault, from the metrics of the runs in `dirs`. */
function measure(dirs, at) {
  const lines = dirs.flatMap(readLines).sort((a, b) => a.time - b.time);
  const failure = lines.find((l) => l.event === "failure_seen" && l.time >= at);
  const step = lines.find((l) => typeof l.loss === "number" && l.generation >= 1 && l.time >= at);
  return { detect_ms: failure ? failure.time - at : undefined, first_step_ms: step ? step.time - at : undefined };
}

const TRAIN = ["--epochs", "1", "--max-steps", "60", "--seed", "0"];

async function singleMachine(kind, victim) {
  const dir = mkdtempSync(join(tmpdir(), "weft-recovery-"));
  try {
    const job = run(process.execPath, [weft, "train", "mnist", "--workers", "3", "--min", "2", ...TRAIN, "--json", "--run-dir", dir]);
    while (steps(dir, victim) < 8) await sleep(10);
    const pid = jobProcesses(dir).find((p) => p.slot === victim).pid;
    const at = Date.now();
    process.kill(pid, kind === "kill" ? "SIGKILL" : "SIGSTOP");
    const { code, out } = await job.done;
    if (code !== 0) throw new Error(`${kind} run failed:\n${out}`);
    return measure([dir], at);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function cutMachine(victim) {
  const m = makeMachines(3);
  const dir = mkdtempSync(join(tmpdir(), "weft-recovery-cut-"));
  try {
    const job = { recipe: "mnist", strategy: "ddp", strategyOptions: {}, workers: 3, elastic: { min: 2, max: 3, maxRestarts: 0 },
      settings: { epochs: 1, maxSteps: 60, seed: 0, batch: 64, lr: 2e-3, options: { shift: 2, "warmup-steps": 100 } } };
    const port = String(20000 + Math.floor(Math.random() * 20000));
    const env = { ...process.env, WEFT_JOB_SECRET: generateSecret() };
    const cli = join(root, "dist/test/distributed/helpers/run-launch-cli.js");
    const worker = join(root, "dist/src/cli/train-worker.js");
    const runs = m.ns.map((ns, i) => run("ip", ["netns", "exec", ns, process.execPath, cli, "--nnodes", "3", "--node-rank", String(i), "--nproc", "1",
      "--rdzv", `${m.addr[0]}:${port}`, "--min", "2", "--max", "3", "--no-metrics", "--grace-ms", "2000", "--run-dir", join(dir, `m${i}`), worker, JSON.stringify(job)], env));
    // The store lives on machine 0: cut one of the others.
    while (steps(join(dir, `m${victim}`), victim) < 8) await sleep(10);
    const at = Date.now();
    m.cut(victim);
    const ends = await Promise.all(runs.map((r) => r.done));
    if (ends.some((e, i) => i !== victim && e.code !== 0)) throw new Error(`cut run failed:\n${ends.map((e) => e.out).join("\n")}`);
    return measure([0, 1, 2].filter((i) => i !== victim).map((i) => join(dir, `m${i}`)), at);
  } finally {
    m.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}

const runs = Number(values.runs);
for (const kind of values.faults.split(",")) {
  if (kind === "cut" && netnsUnavailable()) {
    console.log(JSON.stringify({ fault: "cut", skipped: netnsUnavailable() }));
    continue;
  }
  const first = [], detect = [];
  for (let i = 0; i < runs; i++) {
    const victim = kind === "cut" ? 1 + (i % 2) : i % 3;
    const r = kind === "cut" ? await cutMachine(victim) : await singleMachine(kind, victim);
    if (r.first_step_ms !== undefined) first.push(r.first_step_ms);
    if (r.detect_ms !== undefined) detect.push(r.detect_ms);
    process.stderr.write(`${kind} ${i + 1}/${runs}: victim ${victim}, detect ${r.detect_ms} ms, first step of the new generation ${r.first_step_ms} ms\n`);
  }
  console.log(JSON.stringify({ fault: kind, runs, recovered: first.length, first_step_ms_median: med(first), first_step_ms_p90: pct(first, 0.9), first_step_ms_max: Math.max(...first), first_step_ms: first, detect_ms_median: med(detect), detect_ms: detect }));
}

// Fault-free runs beside a CPU hog on every core: nobody may be left out.
const hogRuns = Number(values["hog-runs"]);
if (hogRuns > 0) {
  const hogs = Array.from({ length: 2 }, () => spawn(process.execPath, ["-e", "for(;;){}"], { stdio: "ignore" }));
  try {
    const reformations = [];
    for (let i = 0; i < hogRuns; i++) {
      const dir = mkdtempSync(join(tmpdir(), "weft-hog-"));
      try {
        const { code, out } = await run(process.execPath, [weft, "train", "mnist", "--workers", "3", "--min", "2", "--epochs", "1", "--seed", String(i), "--json", "--run-dir", dir]).done;
        if (code !== 0) throw new Error(`hog run failed:\n${out}`);
        reformations.push(JSON.parse(out.split("\n").filter((l) => l.startsWith("{\"recipe\"")).pop()).recoveries);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    console.log(JSON.stringify({ fault: "none, beside a CPU hog on each core", runs: hogRuns, reformations }));
  } finally {
    for (const h of hogs) h.kill("SIGKILL");
  }
}
