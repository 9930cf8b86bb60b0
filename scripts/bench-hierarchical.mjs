#!/usr/bin/env node
// Hierarchical all-reduce against the flat ring, across two "machines" of two ranks each: two
// network namespaces joined by a veth whose ends are capped with tc's token bucket
// (src/bench/netns-link.ts), `weft launch --nnodes 2 --nproc 2` in each, running the worker of
// `weft bench allreduce` (src/bench/allreduce-worker.ts: a barrier before each timed call, the
// median on rank 0's clock). Each pair runs the job once hierarchical and once with
// WEFT_HIERARCHICAL=0 (the flat ring of all four ranks), the order alternating from pair to pair,
// since on a shared machine one run can be 20% off the next; the ratio is the median of the
// pairs' flat/hierarchical time ratios.
//
//   node scripts/bench-hierarchical.mjs [--links 1gbit,unlimited] [--sizes 1048576,16777216,67108864] [--pairs 3] [--iters 20]
//
// Prints one JSON line per job and size, then one per link and size:
//   {"bench":"hierarchical","link":"1gbit","bytes":16777216,"hierarchical_ms":…,"flat_ms":…,"ratio":…,"pairs":[…]}
// Needs root (ip netns, tc) and `npm run build` first. The workers are not bound to cores
// (--cpu-bind none): four of them share this machine's cores, and bound ones would spin in
// shared-memory waits, taking the core from a worker of the other namespace.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    links: { type: "string", default: "1gbit" },
    sizes: { type: "string", default: [1 << 20, 16 << 20, 64 << 20].join(",") },
    pairs: { type: "string", default: "3" },
    iters: { type: "string", default: "20" },
  },
});
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = (p) => import(pathToFileURL(join(root, "dist", p)).href);
const { createNetnsLink, linkRate, netnsLinkProblem } = await dist("src/bench/netns-link.js");
const { generateSecret } = await dist("src/distributed/wire/secret.js");
const weft = join(root, "dist/src/cli/main.js");
const worker = join(root, "dist/src/bench/allreduce-worker.js");

const problem = netnsLinkProblem();
if (problem) {
  console.error(`bench-hierarchical: ${problem}`);
  process.exit(2);
}
const sizes = values.sizes.split(",").map(Number);
const settings = JSON.stringify({ sizes, iters: Number(values.iters), budgetBytes: 1 << 30, tcp: false, wire: "f32" });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

/** Runs `program args` and resolves with its exit code and output; killed after 10 minutes. */
function run(program, args, env) {
  const child = spawn(program, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), 600_000);
  return new Promise((resolve) => child.on("close", (code) => (clearTimeout(timer), resolve({ code, out }))));
}

let jobs = 0;
/** One job on `link`, hierarchical or flat: rank 0's line per size. */
async function job(link, hierarchical) {
  const dir = mkdtempSync(join(tmpdir(), "weft-bench-hier-"));
  try {
    const env = { ...process.env, WEFT_JOB_SECRET: generateSecret(), WEFT_HIERARCHICAL: hierarchical ? "1" : "0" };
    const port = String(29500 + (jobs++ % 1000)); // a fresh store port per job: the last one's may linger
    const common = ["launch", "--nnodes", "2", "--nproc", "2", "--rdzv", `${link.addresses[0]}:${port}`, "--no-metrics", "--cpu-bind", "none"];
    const runs = await Promise.all(link.namespaces.map((ns, i) =>
      run("ip", ["netns", "exec", ns, process.execPath, weft, ...common, "--node-rank", String(i), "--run-dir", join(dir, `m${i}`), worker, settings], env)));
    for (const r of runs) if (r.code !== 0) throw new Error(`a job failed (exit ${r.code}):\n${r.out.slice(-3000)}`);
    const lines = runs[0].out.split("\n").flatMap((l) => /^\[0\] (\{"bench":"allreduce".*\})$/.exec(l)?.[1] ?? []).map((l) => JSON.parse(l));
    if (lines.some((l) => l.hierarchical !== hierarchical)) throw new Error(`asked for ${hierarchical ? "the hierarchy" : "the flat group"}, got ${JSON.stringify(lines[0])}`);
    return lines;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const name of values.links.split(",")) {
  const link = createNetnsLink(linkRate(name));
  try {
    const times = new Map(sizes.map((b) => [b, { hierarchical: [], flat: [] }]));
    for (let pair = 0; pair < Number(values.pairs); pair++) {
      for (const hierarchical of pair % 2 === 0 ? [true, false] : [false, true]) {
        for (const line of await job(link, hierarchical)) {
          console.log(JSON.stringify({ ...line, link: name, pair }));
          times.get(line.bytes)[hierarchical ? "hierarchical" : "flat"].push(line.ms_median);
        }
      }
    }
    for (const [bytes, t] of times) {
      const pairs = t.flat.map((f, i) => +(f / t.hierarchical[i]).toFixed(3));
      console.log(JSON.stringify({ bench: "hierarchical", link: name, bytes, hierarchical_ms: median(t.hierarchical), flat_ms: median(t.flat), ratio: median(pairs), pairs }));
    }
  } finally {
    link.remove();
  }
}
