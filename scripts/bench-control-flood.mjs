#!/usr/bin/env node
// What a flood of bad requests to the dashboard costs training (issue 16, "Access"; Note
// [control access] in src/dashboard/control.ts, Note [dashboard access] in src/dashboard/server.ts).
// Runs `weft train mnist --workers 2 --net small --dashboard 0` in pairs, alone and with a flood,
// the order alternating: once rank 0 has reached START_STEP, the flood sends REQUESTS malformed or
// oversized requests to the launcher's dashboard, BATCH every PACE_MS (garbage bytes, 64 KiB of
// headers, a 64 MiB body announced with the secret, a 64 KiB chunked body without it, and half-open
// requests that never finish their headers), one kind in five each. The run alone waits the same.
// Reports rank 0's median step time (the gaps between its step lines' times) over the steps the
// flood lasted, the same steps in the run alone, the job's samples/s (--json), the refusal lines
// the launcher printed, and whether a good request was answered right after the flood.
//
//   node scripts/bench-control-flood.mjs [--pairs 3] [--steps 600] [--start-step 150] [--requests 1000] [--batch 50] [--pace-ms 100]
//
// Not a CI test (test/dashboard/control-job.test.ts checks the behaviour); needs `npm run build` first.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const PAIRS = opt("pairs", 3);
const STEPS = opt("steps", 600);
const START_STEP = opt("start-step", 150);
const REQUESTS = opt("requests", 1000);
const BATCH = opt("batch", 50);
const PACE_MS = opt("pace-ms", 100);
const SECRET = "flood-bench-secret-0123456789abcdef";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function steps(runDir) {
  const file = join(runDir, "rank-0.jsonl");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.event === undefined);
}

/** User + system CPU time of a process, ms (/proc/<pid>/stat fields 14 and 15, in clock ticks of 10 ms). */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function bad(port, i, held) {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.on("error", () => resolve());
    s.on("close", () => resolve());
    s.on("data", () => {});
    const host = `Host: 127.0.0.1:${port}\r\n`;
    switch (i % 5) {
      case 0: s.end(Buffer.from(Array.from({ length: 512 }, (_, k) => (k * 7919 + i) % 256))); break;
      case 1: s.end(`GET /state HTTP/1.1\r\n${host}X-Pad: ${"a".repeat(64 * 1024)}\r\n\r\n`); break;
      case 2:
        s.write(`POST /control/checkpoint HTTP/1.1\r\n${host}Authorization: Bearer ${SECRET}\r\nContent-Length: ${64 << 20}\r\n\r\n`);
        s.end(Buffer.alloc(64 * 1024, 0x62));
        break;
      case 3:
        s.write(`POST /control/stop HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n`);
        s.end(`10000\r\n${"c".repeat(0x10000)}\r\n0\r\n\r\n`);
        break;
      default:
        s.write(`POST /control/stop HTTP/1.1\r\n${host}`);
        held.push(s);
        resolve();
    }
  });
}

function good(port) {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/control/checkpoint", method: "POST", headers: { Authorization: `Bearer ${SECRET}` } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("error", (e) => resolve(e.code));
    req.end();
  });
}

async function run(flood) {
  const dir = mkdtempSync(join(tmpdir(), "weft-flood-bench-"));
  const runDir = join(dir, "run");
  const p = spawn(process.execPath, [join(root, "dist/src/cli/main.js"), "train", "mnist", "--workers", "2", "--net", "small", "--max-steps", String(STEPS), "--run-dir", runDir, "--dashboard", "0", "--json"], {
    cwd: dir, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, WEFT_JOB_SECRET: SECRET },
  });
  let stdout = "";
  let stderr = "";
  p.stdout.setEncoding("utf8").on("data", (d) => (stdout += d));
  p.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
  let exited = false;
  const done = new Promise((resolve) => p.on("close", (code) => ((exited = true), resolve(code))));
  const gone = () => {
    if (exited) throw new Error(`the job ended before the flood could start:\n${stderr}`);
  };
  while (!/dashboard at http:\/\/127\.0\.0\.1:(\d+)\//.test(stderr)) gone(), await sleep(50);
  const port = Number(/dashboard at http:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr)[1]);
  while ((steps(runDir).at(-1)?.step ?? 0) < START_STEP) gone(), await sleep(20);
  const t0 = Date.now();
  const launcherAt0 = cpuMs(p.pid);
  const ownAt0 = process.cpuUsage();
  const held = [];
  let answered;
  if (flood) {
    for (let i = 0; i < REQUESTS; i += BATCH) {
      const batch = Promise.all(Array.from({ length: Math.min(BATCH, REQUESTS - i) }, (_, k) => bad(port, i + k, held)));
      await Promise.race([batch, sleep(PACE_MS)]);
      await sleep(Math.max(0, PACE_MS - (Date.now() - t0) % PACE_MS));
    }
    answered = await good(port);
  } else {
    await sleep(Math.ceil(REQUESTS / BATCH) * PACE_MS);
  }
  const t1 = Date.now();
  const launcherCpu = cpuMs(p.pid) - launcherAt0;
  const own = process.cpuUsage(ownAt0);
  const floodCpu = Math.round((own.user + own.system) / 1000);
  const code = await done;
  for (const s of held) s.destroy();
  const lines = steps(runDir);
  const result = JSON.parse(stdout);
  const window = lines.filter((l) => l.time >= t0 && l.time <= t1).map((l) => l.step);
  rmSync(dir, { recursive: true, force: true });
  return { flood, code, lines, window: [window[0], window.at(-1)], samples: result.samples_per_s, launcherCpu, floodCpu, ms: t1 - t0, refusalLines: stderr.split("\n").filter((l) => /dashboard control: refused/.test(l)).length, answered };
}

function medianGap(lines, [from, to]) {
  const gaps = [];
  for (let i = 1; i < lines.length; i++) if (lines[i].step > from && lines[i].step <= to) gaps.push(lines[i].time - lines[i - 1].time);
  gaps.sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)];
}

console.log("| pair | order | window (steps, s) | median step alone / flood (ms) | flood / alone | samples/s alone / flood | launcher CPU in window alone / flood (ms) | flood client CPU (ms) | refusal lines | good request after |");
console.log("|---|---|---|---|---|---|---|---|---|---|");
for (let pair = 0; pair < PAIRS; pair++) {
  const floodFirst = pair % 2 === 1;
  const first = await run(floodFirst);
  const second = await run(!floodFirst);
  const [alone, flooded] = floodFirst ? [second, first] : [first, second];
  const w = flooded.window;
  const a = medianGap(alone.lines, w);
  const f = medianGap(flooded.lines, w);
  console.log(`| ${pair + 1} | ${floodFirst ? "flood, alone" : "alone, flood"} | ${w[0]}-${w[1]}, ${(flooded.ms / 1000).toFixed(1)} | ${a} / ${f} | ${(f / a).toFixed(2)} | ${alone.samples} / ${flooded.samples} | ${alone.launcherCpu} / ${flooded.launcherCpu} | ${flooded.floodCpu} | ${flooded.refusalLines} | ${flooded.answered} |`);
  if (alone.code !== 0 || flooded.code !== 0) console.log(`(exit codes: alone ${alone.code}, flood ${flooded.code})`);
}
