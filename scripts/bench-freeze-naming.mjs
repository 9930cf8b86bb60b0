#!/usr/bin/env node
// Who is blamed when a rank freezes (src/distributed/transport/link-watch.ts). Runs RUNS jobs of 3
// real processes over TCP repeating all-reduces of FLOATS floats (16 MiB by default), stops one rank
// with SIGSTOP mid-run (rank run % 3) and reads what the two live ranks report
// (test/distributed/helpers/freeze-run.ts). A run is named correctly when both got PeerLostError
// with ranks exactly [the stopped rank]; detect_ms is from the SIGSTOP to a live rank's error,
// over every live rank of every run. Prints one JSON line:
//   {"runs":10,"named_correctly":10,"detect_ms_median":...,"detect_ms_max":...}
// and, with --verbose, one line per run to stderr.
//
//   node scripts/bench-freeze-naming.mjs [--runs 10] [--floats 4194304] [--verbose]
//
// Needs `npm run build` first (it runs the compiled test worker).
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { runs: { type: "string", default: "10" }, floats: { type: "string", default: String(4 << 20) }, verbose: { type: "boolean", default: false } } });
const RUNS = Number(values.runs);
const FLOATS = Number(values.floats);
const VERBOSE = values.verbose;
const root = join(dirname(fileURLToPath(import.meta.url)), "..");

const { runFreeze } = await import(pathToFileURL(join(root, "dist/test/distributed/helpers/freeze-run.js")).href);

let named = 0;
const detect = [];
for (let i = 0; i < RUNS; i++) {
  const frozen = i % 3;
  const run = await runFreeze({ worldSize: 3, frozen, floats: FLOATS });
  const ok = run.live.length === 2 && run.live.every((r) => r.error === "PeerLostError" && r.ranks.length === 1 && r.ranks[0] === frozen);
  if (ok) named++;
  for (const r of run.live) if (Number.isFinite(r.atMs)) detect.push(r.atMs - run.stoppedAtMs);
  if (VERBOSE) {
    const live = run.live.map((r) => `rank ${r.rank}: ${r.error} [${r.ranks}] after ${r.atMs - run.stoppedAtMs} ms: ${r.message.slice(0, 120)}`);
    const woken = run.woken ? `${run.woken.error} ${run.woken.atMs - run.continuedAtMs} ms after SIGCONT` : "no report";
    process.stderr.write(`run ${i} froze rank ${frozen}: ${ok ? "named" : "MISNAMED"}; ${live.join("; ")}; woken: ${woken}\n`);
  }
}
detect.sort((a, b) => a - b);
const median = detect.length === 0 ? null : detect.length % 2 ? detect[(detect.length - 1) / 2] : (detect[detect.length / 2 - 1] + detect[detect.length / 2]) / 2;
process.stdout.write(`${JSON.stringify({ runs: RUNS, named_correctly: named, detect_ms_median: median, detect_ms_max: detect.at(-1) ?? null })}\n`);
