#!/usr/bin/env node
// Where a small all-reduce over TCP spends its time, measured piece by piece in one run, so that
// the latency of `weft bench allreduce --transport tcp` at small sizes can be read against what
// its parts cost on this machine:
//   thread_hop_us     half the round trip of a message between a thread and a worker thread
//                     (postMessage both ways), the hand-off from the main thread to the comm
//                     thread and back (executors/threaded-executor.ts);
//   tcp_rtt_us        the round trip of 36 bytes between two Node processes over loopback TCP
//                     (no Weft code: the socket floor);
//   engine_us         the JavaScript of one 4-byte all-reduce in the collective engine, per rank:
//                     two ranks in one process over the in-process transport, no socket, no thread;
//   allreduce_us      a 4-byte all-reduce between two processes over TCP, back to back (no barrier
//                     in between), unbound, median.
// Each is the median of `--reps` runs of `--iters` operations. A 4-byte all-reduce of two ranks
// costs, at the least, a hand-off each way plus one exchange (about half a round trip, the
// sends crossing), plus the engine's work on each side.
//
//   node scripts/bench-tcp-latency.mjs [--iters 3000] [--reps 3]
//
// Prints one JSON line: {"bench":"tcp-latency","thread_hop_us":…,"tcp_rtt_us":…,"engine_us":…,"allreduce_us":…}
// Needs `npm run build` first.
import { fork } from "node:child_process";
import { connect, createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";

const { values } = parseArgs({ options: { iters: { type: "string", default: "3000" }, reps: { type: "string", default: "3" }, role: { type: "string" } } });
const iters = Number(values.iters);
const reps = Number(values.reps);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = (p) => import(pathToFileURL(join(root, "dist", p)).href);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const round = (x) => Number(x.toFixed(1));

/** One rank of the TCP all-reduce (this script, forked with --role rank). */
async function rank() {
  const { initProcessGroup } = await dist("src/distributed/group/init.js");
  const { sharedFloat32Array } = await dist("src/distributed/base/shared-buffer.js");
  const pg = await initProcessGroup({ sharedMemory: false });
  const buf = sharedFloat32Array(1);
  const times = [];
  for (let i = 0; i < 50; i++) await pg.allReduce(buf);
  for (let i = 0; i < iters; i++) {
    const t = performance.now();
    await pg.allReduce(buf);
    times.push(performance.now() - t);
  }
  if (pg.rank === 0) process.send?.(median(times) * 1000);
  await pg.destroy();
}

/** The TCP echo side of tcp_rtt_us (forked with --role echo). */
function echo() {
  const server = createServer((c) => {
    c.setNoDelay(true);
    c.on("data", (d) => c.write(d));
  });
  server.listen(0, "127.0.0.1", () => process.send?.(server.address().port));
  process.on("disconnect", () => process.exit(0));
}

async function threadHop() {
  const w = new Worker("require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage(m));", { eval: true });
  const times = [];
  await new Promise((resolve) => {
    let i = 0;
    let t0 = 0;
    w.on("message", () => {
      times.push(performance.now() - t0);
      if (++i === iters) return resolve();
      t0 = performance.now();
      w.postMessage(i);
    });
    t0 = performance.now();
    w.postMessage(0);
  });
  await w.terminate();
  return (median(times) * 1000) / 2;
}

async function tcpRtt() {
  const child = fork(fileURLToPath(import.meta.url), ["--role", "echo"]);
  const port = await new Promise((resolve) => child.once("message", resolve));
  const socket = connect(port, "127.0.0.1");
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.setNoDelay(true);
  const frame = Buffer.alloc(36);
  const times = [];
  await new Promise((resolve) => {
    let t0 = 0;
    socket.on("data", () => {
      times.push(performance.now() - t0);
      if (times.length === iters) return resolve();
      t0 = performance.now();
      socket.write(frame);
    });
    t0 = performance.now();
    socket.write(frame);
  });
  socket.destroy();
  child.disconnect();
  return median(times) * 1000;
}

async function engine() {
  const { createInProcessGroups } = await dist("src/distributed/group/in-process-group.js");
  const [a, b] = createInProcessGroups(2);
  const x = new Float32Array(1);
  const y = new Float32Array(1);
  for (let i = 0; i < 500; i++) await Promise.all([a.allReduce(x), b.allReduce(y)]);
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) await Promise.all([a.allReduce(x), b.allReduce(y)]);
  const us = ((performance.now() - t0) / iters) * 1000;
  await Promise.all([a.destroy(), b.destroy()]);
  return us / 2;
}

async function allReduce() {
  const { generateSecret } = await dist("src/distributed/wire/secret.js");
  const port = 20000 + Math.floor(Math.random() * 20000);
  const env = { ...process.env, WORLD_SIZE: "2", MASTER_ADDR: "127.0.0.1", MASTER_PORT: String(port), WEFT_JOB_SECRET: generateSecret() };
  for (const k of Object.keys(env)) if (k.startsWith("WEFT_") && k !== "WEFT_JOB_SECRET") delete env[k];
  const ranks = [0, 1].map((r) => fork(fileURLToPath(import.meta.url), ["--role", "rank", "--iters", String(iters)], { env: { ...env, RANK: String(r) } }));
  const result = new Promise((resolve) => ranks[0].once("message", resolve));
  const exits = ranks.map((c) => new Promise((resolve) => c.once("exit", (code) => resolve(code))));
  const codes = await Promise.all(exits);
  if (codes.some((c) => c !== 0)) throw new Error(`bench-tcp-latency: a rank exited with code ${codes.join(", ")}`);
  return result;
}

if (values.role === "rank") await rank();
else if (values.role === "echo") echo();
else {
  const runs = { thread_hop_us: [], tcp_rtt_us: [], engine_us: [], allreduce_us: [] };
  for (let r = 0; r < reps; r++) {
    runs.thread_hop_us.push(await threadHop());
    runs.tcp_rtt_us.push(await tcpRtt());
    runs.engine_us.push(await engine());
    runs.allreduce_us.push(await allReduce());
  }
  const line = { bench: "tcp-latency", iters, reps };
  for (const [k, v] of Object.entries(runs)) line[k] = round(median(v));
  console.log(JSON.stringify(line));
}
