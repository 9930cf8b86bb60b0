// A real `weft train` killed with SIGKILL (its whole process group) mid-run and resumed with
// --resume ends at the parameters of the run that was never interrupted, bit for bit; a damaged
// newest checkpoint is skipped with one warning line naming it.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadCheckpoint } from "../../src/checkpoint/index.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");
const train = (dir: string, ...extra: string[]) => ["train", "mnist", "--checkpoint-dir", dir, "--checkpoint-every", "5", "--max-steps", "20", "--json", ...extra];

function weftRun(args: string[]) {
  const run = spawnSync(process.execPath, [weft, ...args], { cwd: root, encoding: "utf8", timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  return { result: JSON.parse(run.stdout.trim().split("\n").pop()!) as Record<string, unknown>, stderr: run.stderr };
}

const dataDigest = async (path: string) => (await loadCheckpoint(path)).metadata["weft.sha256"];

test("weft train killed with SIGKILL mid-run, then --resume: the newest good checkpoint, and the uninterrupted run's final parameters", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-kill-"));
  try {
    const whole = join(dir, "whole");
    weftRun(train(whole));

    const killed = join(dir, "killed");
    // Slowed (numerics unchanged) so that the kill lands between checkpoints, not after the last.
    const child = spawn(process.execPath, [weft, ...train(killed, "--slow-rank", "0", "--slowdown", "4")], { cwd: root, detached: true, stdio: "ignore" });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
    const deadline = Date.now() + 60_000;
    while (!existsSync(join(killed, "step-10.safetensors")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    process.kill(-child.pid!, "SIGKILL");
    assert.equal(await exited, "SIGKILL");
    const left = readdirSync(killed).filter((f) => f.startsWith("step-")).map((f) => Number(/\d+/.exec(f)![0])).sort((a, b) => b - a);
    assert.ok(left[0]! >= 10 && left[0]! < 20, `killed mid-run: ${left}`);

    // Damage the newest: the one before it is used, with one line saying so.
    const newest = join(killed, `step-${left[0]}.safetensors`);
    const bytes = readFileSync(newest);
    bytes[bytes.length - 1]! ^= 0xff;
    writeFileSync(newest, bytes);
    const { result, stderr } = weftRun(train(killed, "--resume"));
    assert.equal(result.resumed_from_step, left[0]! - 5);
    assert.equal(result.steps, 20);
    const warnings = stderr.split("\n").filter((l) => l.includes("is damaged"));
    assert.equal(warnings.length, 1, stderr);
    assert.match(warnings[0]!, new RegExp(`^weft: checkpoint .*step-${left[0]}\\.safetensors is damaged, resuming from step-${left[0]! - 5}\\.safetensors instead: `));
    assert.equal(await dataDigest(join(killed, "step-20.safetensors")), await dataDigest(join(whole, "step-20.safetensors")), "the same final parameters and optimizer state");
    assert.deepEqual(readdirSync(killed).filter((f) => f.startsWith(".")), [], "no temporary file left");
    assert.equal(readdirSync(killed).length, 3, "--keep's default: 3");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
