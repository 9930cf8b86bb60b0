#!/usr/bin/env node
// What strangers cost a training job (issue 12, item 7; Note [pending connections] in
// src/distributed/wire/listener.ts). Runs `weft train mnist --workers 2` twice per round: once
// alone, once while another process opens STRANGERS unauthenticated connections to the launcher's
// store port and as many to rank 0's listening port and holds them for HOLD_S seconds, sending
// nothing. Reports, for each run, the RSS growth of the launcher and of each worker over the hold
// (peak VmRSS from /proc/<pid>/status, sampled every 100 ms, minus the value just before the
// strangers start; the run alone is sampled over the same window), the log lines about refused
// connections (launcher stderr and rank logs) with the most in any one second, how many of the
// strangers' sockets the job closed, and the throughput (samples/s from --json).
//
//   node scripts/bench-strangers.mjs [--strangers 4000] [--hold-s 20] [--epochs 30] [--rounds 2] [--start-step 400]
//
// Not a CI test: it takes a few minutes and needs ~8,000 open files in the strangers' process
// (raised with ulimit -n up to the hard limit). Needs `npm run build` first.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const STRANGERS = opt("strangers", 4000);
const HOLD_S = opt("hold-s", 20);
const EPOCHS = opt("epochs", 60);
const ROUNDS = opt("rounds", 2);
// The strangers start once both ranks took this many steps: a worker's RSS grows by tens of MB in
// its first epochs on its own (glibc keeps freed activations, ARCHITECTURE.md), which would hide
// what the strangers cost. Sampled every 2 s on 2026-12-02, a rank of `--workers 2` held 189 MB at
// step 400, 241 MB by step 1,150 and stayed there from step 1,500 to the end (2,500 steps in 40
// epochs); 60 epochs leave the 22 s window inside training. The run alone is sampled over the
// same window.
const START_STEP = opt("start-step", 1500);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Listening TCP ports by pid, from `ss -ltnpH`. */
function listeners() {
  const out = execFileSync("ss", ["-ltnpH"], { encoding: "utf8" });
  const byPid = new Map();
  for (const line of out.split("\n")) {
    const m = /127\.0\.0\.1:(\d+)\s.*pid=(\d+)/.exec(line);
    if (m) byPid.set(Number(m[2]), [...(byPid.get(Number(m[2])) ?? []), Number(m[1])]);
  }
  return byPid;
}

function childrenOf(pid) {
  const kids = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) kids.push(Number(d));
    } catch {}
  }
  return kids;
}

function rankOf(pid) {
  try {
    const env = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
    const r = env.find((e) => e.startsWith("WEFT_RANK="));
    return r ? Number(r.slice(10)) : undefined;
  } catch {
    return undefined;
  }
}

/** The strangers: a separate process that opens `n` sockets to each port, spread over ~2 s, and holds them. */
const STRANGER_SRC = `
const net = require("node:net");
const [n, holdMs, ...ports] = process.argv.slice(1).map(Number);
let open = 0, closedByPeer = 0, failed = 0;
const socks = [];
const batch = 100;
let i = 0;
function more() {
  for (let k = 0; k < batch && i < n * ports.length; k++, i++) {
    const s = net.connect(ports[i % ports.length], "127.0.0.1");
    let opened = false;
    s.on("connect", () => { opened = true; open++; });
    s.on("error", () => {});
    s.on("close", () => { if (opened) closedByPeer++; else failed++; });
    s.resume();
    socks.push(s);
  }
  if (i < n * ports.length) setTimeout(more, 50); else setTimeout(done, holdMs);
}
function done() {
  const stillOpen = socks.filter((s) => !s.destroyed).length;
  console.log(JSON.stringify({ opened: open, closedByPeer, failed, stillOpen }));
  for (const s of socks) s.destroy();
  process.exit(0);
}
more();
`;

/** Runs the strangers against `ports` (STRANGERS to each) until they let go; resolves with their report. */
async function holdStrangers(ports) {
  const limit = Number(execFileSync("bash", ["-c", "ulimit -Hn"], { encoding: "utf8" }).trim()) || 20000;
  const child = spawn("bash", ["-c", `ulimit -n ${limit}; code="$1"; shift; exec "$0" -e "$code" "$@"`, process.execPath, STRANGER_SRC, String(STRANGERS), String(HOLD_S * 1000), ...ports.map(String)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  await new Promise((r) => child.on("exit", r));
  return JSON.parse(out.trim().split("\n").pop());
}

async function runOnce(withStrangers) {
  const runDir = mkdtempSync(join(tmpdir(), "weft-strangers-"));
  const job = spawn(process.execPath, [join(root, "dist/src/cli/main.js"), "train", "mnist", "--workers", "2", "--epochs", String(EPOCHS), "--json", "--run-dir", runDir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  job.stdout.on("data", (d) => (stdout += d));
  const launcherLines = [];
  let buf = "";
  job.stderr.setEncoding("utf8").on("data", (d) => {
    buf += d;
    const lines = buf.split("\n");
    buf = lines.pop();
    for (const l of lines) launcherLines.push({ t: Date.now(), l });
  });
  const exited = new Promise((r) => job.on("exit", r));

  // Training has started once both ranks wrote metrics.
  let workers = [];
  for (;;) {
    await sleep(200);
    const ranks = [0, 1].map((r) => join(runDir, `rank-${r}.jsonl`));
    if (ranks.every((f) => existsSync(f) && readFileSync(f, "utf8").split("\n").length > START_STEP)) break;
  }
  workers = childrenOf(job.pid).map((pid) => ({ pid, rank: rankOf(pid) })).filter((w) => w.rank !== undefined).sort((a, b) => a.rank - b.rank);
  const ports = listeners();
  const storePort = ports.get(job.pid)?.[0];
  const rank0Port = ports.get(workers[0].pid)?.[0];
  const pids = { launcher: job.pid, ...Object.fromEntries(workers.map((w) => [`rank ${w.rank}`, w.pid])) };
  const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, rssMb(p)]));
  const peak = { ...before };
  const t0 = Date.now();
  const sampler = setInterval(() => {
    for (const [k, p] of Object.entries(pids)) {
      const v = rssMb(p);
      if (v !== undefined && v > peak[k]) peak[k] = v;
    }
  }, 100);
  let strangerReport;
  const windowMs = HOLD_S * 1000 + 2000;
  if (withStrangers) {
    strangerReport = await holdStrangers([storePort, rank0Port]);
  } else {
    await sleep(windowMs);
  }
  clearInterval(sampler);
  const t1 = Date.now();
  await exited;
  const result = JSON.parse(stdout.trim().split("\n").pop());
  // Refusal lines: the store's on the launcher's stderr, each rank's in its log.
  const isRefusal = (l) => /refused/.test(l);
  const storeLines = launcherLines.filter((x) => /store: /.test(x.l) && isRefusal(x.l));
  const inWindow = storeLines.filter((x) => x.t >= t0 && x.t <= t1 + 2000);
  // Arrival times here lag the launcher's writes by a pipe and an event loop, so the smallest gap
  // between two lines is the figure to read (the listener spaces its own lines >= 1 s apart).
  let minGapMs = Infinity;
  for (let i = 1; i < inWindow.length; i++) minGapMs = Math.min(minGapMs, inWindow[i].t - inWindow[i - 1].t);
  const rankLines = Object.fromEntries(
    workers.map((w) => [`rank ${w.rank}`, readFileSync(join(runDir, `rank-${w.rank}.log`), "utf8").split("\n").filter((l) => /rank \d+: refused/.test(l)).length]),
  );
  const grow = Object.fromEntries(Object.keys(pids).map((k) => [k, Number((peak[k] - before[k]).toFixed(1))]));
  return {
    withStrangers,
    ports: { store: storePort, rank0: rank0Port },
    rssBeforeMb: Object.fromEntries(Object.entries(before).map(([k, v]) => [k, Number(v.toFixed(1))])),
    rssGrowthMb: grow,
    refusalLines: { store: storeLines.length, storeMinGapMs: Number.isFinite(minGapMs) ? minGapMs : null, ...rankLines },
    sampleRefusals: storeLines.slice(0, 3).map((x) => x.l),
    strangers: strangerReport,
    samplesPerS: result.samples_per_s,
    wallS: result.wall_s,
    testAccuracy: result.test_accuracy,
  };
}

// --listener-only: no training, one listener per process on a worker thread (as a rank's is, on
// its comm thread), for each way of treating newcomers at the cap: a bare net.Server that destroys
// every socket at once (what Node alone costs), then AuthenticatedListener letting in none
// (letInEvery Infinity), one in five (the default) and one in two past the cap. A real client
// dials every 700 ms throughout, through retryWhileRefused; its slowest connect tells what the
// strangers cost a rank that joins while they hold the port.
const SERVE_SRC = `
const { Worker } = require("node:worker_threads");
const [root, variant] = process.argv.slice(1);
const w = new Worker(${JSON.stringify(`(${serveListener})()`)}, { eval: true, workerData: { root, variant } });
w.on("message", (m) => { console.log(JSON.stringify(m)); if (m.done) process.exit(0); });
process.stdin.once("data", () => w.postMessage("report"));
`;

/** Runs on the worker thread (stringified into SERVE_SRC): the listener, and a client dialing it. */
function serveListener() {
  const { parentPort, workerData } = require("node:worker_threads");
  const net = require("node:net");
  const load = (m) => import(`${workerData.root}/dist/src/distributed/${m}`);
  (async () => {
    const [{ AuthenticatedListener }, { secretKey, generateSecret }, { DEFAULT_FRAME_LIMITS }, { FramedConnection }, { retryWhileRefused }] = await Promise.all(
      ["wire/listener.js", "wire/secret.js", "wire/frame.js", "wire/connection.js", "base/retry.js"].map(load),
    );
    if (workerData.variant === "bare") {
      const server = net.createServer((s) => s.destroy());
      await new Promise((r) => server.listen(0, "127.0.0.1", r));
      parentPort.postMessage({ port: server.address().port });
      parentPort.once("message", () => parentPort.postMessage({ done: true }));
      return;
    }
    const secret = secretKey(generateSecret());
    let lines = 0;
    const sink = () => ({ destinationFor: () => undefined, onFrame() {} });
    const listener = await AuthenticatedListener.listen(
      { host: "127.0.0.1", port: 0, secret, limits: DEFAULT_FRAME_LIMITS, handshakeTimeoutMs: 30_000, log: () => lines++, label: "bench", guard: { letInEvery: Number(workerData.variant) } },
      { sink, onAuthenticated: (conn) => conn.close() },
    );
    const dials = [];
    const dialer = setInterval(async () => {
      const t0 = Date.now();
      let attempts = 0;
      try {
        const conn = await retryWhileRefused("the bench listener", t0 + 30_000, () => {
          attempts++;
          return FramedConnection.dial("127.0.0.1", listener.port, { secret, limits: DEFAULT_FRAME_LIMITS, handshakeTimeoutMs: 5000, sink, log: () => {} });
        });
        conn.close();
        dials.push({ ms: Date.now() - t0, attempts });
      } catch {
        dials.push({ ms: Date.now() - t0, attempts, failed: true });
      }
    }, 700);
    parentPort.postMessage({ port: listener.port });
    parentPort.once("message", async () => {
      clearInterval(dialer);
      const counts = listener.acceptCounts;
      await listener.close();
      const worst = dials.reduce((a, d) => (d.ms > a.ms ? d : a), { ms: 0, attempts: 0 });
      parentPort.postMessage({ done: true, counts, refusalLines: lines, dials: dials.length, dialsFailed: dials.filter((d) => d.failed).length, slowestDialMs: worst.ms, slowestDialAttempts: worst.attempts });
    });
  })();
}

async function listenerOnce(variant) {
  const child = spawn(process.execPath, ["-e", SERVE_SRC, root, variant], { stdio: ["pipe", "pipe", "inherit"] });
  const messages = [];
  let wake = () => {};
  let buf = "";
  child.stdout.setEncoding("utf8").on("data", (d) => {
    buf += d;
    const lines = buf.split("\n");
    buf = lines.pop();
    for (const l of lines) messages.push(JSON.parse(l));
    wake();
  });
  const next = async () => {
    while (messages.length === 0) await new Promise((r) => (wake = r));
    return messages.shift();
  };
  const { port } = await next();
  // Let the thread's start-up settle before the baseline.
  await sleep(2000);
  const before = rssMb(child.pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(child.pid) ?? 0)), 100);
  const strangers = await holdStrangers([port]);
  clearInterval(sampler);
  child.stdin.write("report\n");
  const { done, ...report } = await next();
  return { variant: variant === "bare" ? "bare net.Server" : `letInEvery ${variant}`, rssGrowthMb: Number((peak - before).toFixed(1)), ...report, strangers };
}

if (args.includes("--listener-only")) {
  for (let r = 0; r < ROUNDS; r++) {
    for (const variant of ["bare", "Infinity", "4", "1"]) console.log(JSON.stringify(await listenerOnce(variant)));
  }
  process.exit(0);
}

const results = [];
for (let r = 0; r < ROUNDS; r++) {
  for (const withStrangers of [false, true]) {
    const res = await runOnce(withStrangers);
    console.log(JSON.stringify(res));
    results.push(res);
  }
}
const tput = (w) => results.filter((x) => x.withStrangers === w).map((x) => x.samplesPerS);
// Pairs in the order they ran: each run with strangers against the run alone just before it.
const pairs = [];
for (let i = 0; i + 1 < results.length; i += 2) {
  const [alone, attacked] = [results[i], results[i + 1]];
  const over = Object.fromEntries(Object.keys(attacked.rssGrowthMb).map((k) => [k, Number((attacked.rssGrowthMb[k] - alone.rssGrowthMb[k]).toFixed(1))]));
  pairs.push({ growthOverAloneMb: over, samplesPerSRatio: Number((attacked.samplesPerS / alone.samplesPerS).toFixed(2)) });
}
console.log(JSON.stringify({ summary: { strangers: STRANGERS, holdS: HOLD_S, epochs: EPOCHS, startStep: START_STEP, samplesPerSAlone: tput(false), samplesPerSWithStrangers: tput(true), pairs } }));
