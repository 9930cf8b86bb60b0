// `weft launch --join`: a second launcher adds its worker to a running elastic job, which takes it
// in at a step boundary; at the end it holds the same parameters as the others.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type { TrainJob } from "../../src/cli/train-job.js";
import { generateSecret } from "../../src/distributed/wire/secret.js";
import { stepsWritten } from "../distributed/helpers/job-workers.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");
const worker = join(root, "dist/src/cli/train-worker.js");

function launch(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [weft, "launch", ...args], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d));
  child.stderr.on("data", (d: Buffer) => (out += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), 150_000);
  return new Promise((resolve) => child.on("close", (code) => (clearTimeout(timer), resolve({ code, out }))));
}

test("weft launch --join adds a worker to a running job; it ends bitwise identical to the others", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-join-"));
  try {
    const job: TrainJob = {
      recipe: "mnist", strategy: "ddp", strategyOptions: {}, workers: 2, elastic: { min: 1, max: 3, maxRestarts: 0 },
      settings: { epochs: 1, maxSteps: 90, seed: 0, batch: 64, lr: 2e-3, options: { shift: 2, "warmup-steps": 100 } },
    };
    const env = { ...process.env, WEFT_JOB_SECRET: generateSecret() };
    const rdzv = `127.0.0.1:${20000 + Math.floor(Math.random() * 20000)}`;
    const [first, second] = [join(dir, "first"), join(dir, "second")];
    const common = ["--min", "1", "--max", "3", "--rdzv", rdzv, "--no-metrics"];
    const started = launch(["--nproc", "2", ...common, "--run-dir", first, worker, JSON.stringify(job)], env);
    const deadline = Date.now() + 60_000;
    while (stepsWritten(first, 0) < 5) {
      assert.ok(Date.now() < deadline, "the job never started training");
      await new Promise((r) => setTimeout(r, 20));
    }
    const joined = launch(["--join", "--nproc", "1", ...common, "--run-dir", second, worker, JSON.stringify(job)], env);
    const [a, b] = await Promise.all([started, joined]);
    assert.equal(a.code, 0, a.out);
    assert.equal(b.code, 0, b.out);
    assert.match(b.out, /j[0-9a-f]{6}-0 joined generation \d+ as rank 2 of 3/);
    const result = JSON.parse(readFileSync(join(first, "result.json"), "utf8")) as { final_members: string[] };
    assert.equal(result.final_members.length, 3);
    const digest = (d: string) => readdirSync(d).filter((f) => f.startsWith("report-")).map((f) => (JSON.parse(readFileSync(join(d, f), "utf8")) as { digest: string }).digest);
    const all = [...digest(first), ...digest(second)];
    assert.equal(all.length, 3);
    assert.equal(new Set(all).size, 1, "the joiner's parameters equal the others'");
    assert.ok(!existsSync(join(second, "result.json")), "the result is written once, by the final generation's rank 0");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
