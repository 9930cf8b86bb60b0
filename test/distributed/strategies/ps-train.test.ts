// The parameter server between real processes: `weft train mnist --strategy ps` starts workers and
// servers from one command and ends with DDP's parameters bit for bit in sync mode, each server
// writing its shard beside the checkpoint; bad flags are one line naming the flag and what it
// takes; and a server killed mid-run is named, with its shard, by every worker long before the
// deadline.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { spawnRanks } from "../helpers/spawn-ranks.js";

const root = fileURLToPath(new URL("../../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

function weftRun(args: string[]) {
  return spawnSync(process.execPath, [weft, ...args], { cwd: root, encoding: "utf8", timeout: 180_000 });
}

const refused: [string[], RegExp][] = [
  [["--mode", "fast"], /--mode must be one of sync, async, ssp, got "fast"/],
  [["--servers", "0"], /--servers must be an integer >= 1, got "0"/],
  [["--mode", "ssp", "--staleness", "-1"], /--staleness must be an integer >= 0, got "-1"/],
  [["--mode", "async", "--staleness", "2"], /--staleness bounds --mode ssp; --mode async takes none/],
  [["--mode", "ssp"], /--mode ssp needs --staleness S, an integer >= 0/],
];

for (const [flags, message] of refused) {
  test(`weft train mnist --strategy ps ${flags.join(" ")} is refused in one line with exit status 2`, () => {
    const run = weftRun(["train", "mnist", "--workers", "2", "--strategy", "ps", ...flags]);
    assert.equal(run.status, 2, run.stderr);
    assert.equal(run.stderr.trim().split("\n").length, 1, `more than one line:\n${run.stderr}`);
    assert.match(run.stderr, message);
  });
}

test("--servers belongs to --strategy ps", () => {
  const run = weftRun(["train", "mnist", "--workers", "2", "--servers", "2"]);
  assert.equal(run.status, 2);
  assert.match(run.stderr, /--servers is an option of --strategy ps, not of ddp/);
});

test("weft train mnist --workers 2 --strategy ps: workers and a server from one command; sync ends with DDP's parameters bit for bit", () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-ps-train-"));
  const runDirs: string[] = [];
  const train = (args: string[]): Record<string, unknown> => {
    const run = weftRun(["train", "mnist", "--workers", "2", "--max-steps", "6", "--json", ...args]);
    assert.equal(run.status, 0, run.stderr);
    const r = JSON.parse(run.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
    runDirs.push(r.run_dir as string);
    return r;
  };
  try {
    const ckpt = join(dir, "ps.safetensors");
    const ps = train(["--strategy", "ps", "--checkpoint", ckpt]);
    const ddp = train(["--strategy", "ddp"]);
    assert.equal(ps.strategy, "ps");
    assert.equal(ps.servers, 1);
    assert.equal(ps.updates_per_server, 6);
    assert.equal(ps.staleness_max, 0);
    assert.equal(ps.replicas_identical, true);
    assert.equal(ps.digest, ddp.digest, "sync with one server computes DDP's step");
    assert.equal(ps.test_accuracy, ddp.test_accuracy);
    assert.ok(existsSync(ckpt) && existsSync(`${ckpt}.server-0`), "worker 0's checkpoint and the server's shard beside it");
  } finally {
    rmSync(dir, { recursive: true, force: true });
    for (const d of runDirs) rmSync(d, { recursive: true, force: true });
  }
});

test("a parameter server killed mid-run: both workers name it and its shard, within seconds of a 30 s deadline", async () => {
  const results = await spawnRanks({ worldSize: 3, script: "ps-fault-worker.js", timeoutMs: 120_000 });
  assert.equal(results[2]!.signal, "SIGKILL");
  for (const r of results.slice(0, 2)) {
    assert.equal(r.code, 0, r.stderr);
    const row = r.json[0];
    assert.ok(row, `worker ${r.rank} reported nothing:\n${r.stderr}`);
    assert.equal(row.error, "ParameterServerError", JSON.stringify(row));
    assert.equal(row.serverRank, 2);
    assert.match(row.message as string, /^parameter server rank 2 \(shard 0: 420 parameters in 4 tensors\) failed worker rank [01] /);
    assert.match(row.message as string, /PeerLostError/);
    assert.ok((row.ms as number) < 10_000, `took ${row.ms} ms`);
  }
});
