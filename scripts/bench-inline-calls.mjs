#!/usr/bin/env node
// Where the time of a small inline all-reduce goes, layer by layer: back-to-back calls of the
// native shared-memory collective alone, of the executor around it, and of the process group
// (with the flight recorder on and off), in alternating rounds of 20,000 calls, on two ranks.
// Each rank waits for the other in every call, so a call's time is the slower rank's work plus
// the hand-over between the cores: the native barrier (0 bytes) measures that hand-over alone,
// which moves with where the machine's hypervisor puts the two CPUs (BENCHMARKS.md, "Inline
// calls, layer by layer").
//
//   node dist/src/cli/main.js launch --nproc 2 scripts/bench-inline-calls.mjs [--bytes 4] [--rounds 15]
//
// Rank 0 prints one JSON line, medians over the rounds in µs per call:
//   {"bench":"inline-calls","bytes":4,"barrier_us":…,"native_us":…,"executor_us":…,"group_us":…,"group_unrecorded_us":…}
// It reaches past the group's public API (its executor, the addon handle) on purpose: it measures
// the layers under it. Needs `npm run build` first.
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { bytes: { type: "string", default: "4" }, rounds: { type: "string", default: "15" } } });
const bytes = Number(values.bytes);
const rounds = Number(values.rounds);
if (!Number.isInteger(bytes) || bytes < 4 || bytes % 4 !== 0 || !Number.isInteger(rounds) || rounds < 1) {
  console.error("bench-inline-calls: --bytes must be a positive multiple of 4 and --rounds a positive integer");
  process.exit(2);
}
const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "src");
const load = (path) => import(pathToFileURL(join(dist, path)).href);
const { initProcessGroup } = await load("distributed/group/init.js");
const { sharedFloat32Array } = await load("distributed/base/shared-buffer.js");
const { flightRecorder } = await load("distributed/group/flight-recorder.js");

const pg = await initProcessGroup({ sharedMemory: true });
if (pg.transport !== "shared-memory") throw new Error(`bench-inline-calls: the group went over ${pg.transport}; run it under weft launch --nproc 2 on one machine`);
const executor = pg.executor;
const { addon, handle } = executor;
const spin = executor.options.spinUs;
const n = bytes / 4;
const buf = sharedFloat32Array(n).fill(1);
const capacity = flightRecorder.capacity;
const CALLS = 20_000;

const layers = {
  barrier: () => addon.shmRun(handle, 5, 0, -1, 0, null, null, 30_000, spin),
  native: () => addon.shmRun(handle, 1, 1, -1, n, buf, null, 30_000, spin),
  executor: () => executor.runNow({ op: "allReduce", buffer: buf, reduceOp: "sum" }),
};
const times = { barrier: [], native: [], executor: [], group: [], group_unrecorded: [] };
for (let i = 0; i < 1000; i++) await pg.allReduce(buf); // warm up every path's code
for (let round = 0; round < rounds; round++) {
  for (const layer of Object.keys(times)) {
    const t0 = performance.now();
    if (layer in layers) {
      const call = layers[layer];
      for (let i = 0; i < CALLS; i++) call();
    } else {
      flightRecorder.capacity = layer === "group" ? capacity : 0;
      for (let i = 0; i < CALLS; i++) await pg.allReduce(buf);
      flightRecorder.capacity = capacity;
    }
    times[layer].push(((performance.now() - t0) / CALLS) * 1000);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
if (pg.rank === 0) {
  const line = { bench: "inline-calls", bytes };
  for (const [layer, ts] of Object.entries(times)) line[`${layer}_us`] = Number(median(ts).toFixed(3));
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
await pg.destroy();
