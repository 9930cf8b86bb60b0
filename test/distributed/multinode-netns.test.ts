// Two "machines" as two network namespaces joined by a veth pair: node 0's launcher serves the
// store on its address, node 1's launcher joins with --rdzv, and one all-reduce crosses the link.
// Needs root and iproute2; skipped with a reason otherwise. Names are unique per run, and the
// namespaces are always removed (deleting a namespace also removes its end of the veth pair).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateSecret } from "../../src/distributed/wire/secret.js";
import { launchInNamespace } from "./helpers/netns-switch.js";

function ip(...args: string[]): void {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr || r.error?.message}`);
}

function whyNot(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root to create network namespaces";
  if (spawnSync("ip", ["-V"]).status !== 0) return "needs iproute2 (`ip`)";
  return undefined;
}


test("a collective across two network namespaces, node 0 serving the store", { skip: whyNot() }, async () => {
  const id = randomBytes(3).toString("hex");
  const [nsA, nsB, vA, vB] = [`weft-a-${id}`, `weft-b-${id}`, `wfa${id}`, `wfb${id}`];
  const net = `10.${200 + (parseInt(id, 16) % 50)}.${parseInt(id.slice(2), 16) % 250}`;
  const dir = mkdtempSync(join(tmpdir(), "weft-netns-"));
  const secret = generateSecret();
  const secretFile = join(dir, "secret");
  writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
  const worker = fileURLToPath(new URL("./workers/netns-worker.js", import.meta.url));
  const port = String(20000 + (parseInt(id, 16) % 20000));
  try {
    ip("netns", "add", nsA);
    ip("netns", "add", nsB);
    ip("link", "add", vA, "type", "veth", "peer", "name", vB);
    ip("link", "set", vA, "netns", nsA);
    ip("link", "set", vB, "netns", nsB);
    ip("-n", nsA, "addr", "add", `${net}.1/24`, "dev", vA);
    ip("-n", nsB, "addr", "add", `${net}.2/24`, "dev", vB);
    for (const [ns, dev] of [[nsA, vA], [nsB, vB]] as const) {
      ip("-n", ns, "link", "set", dev, "up");
      ip("-n", ns, "link", "set", "lo", "up");
    }
    const common = ["--nnodes", "2", "--nproc", "1", "--rdzv", `${net}.1:${port}`, "--no-metrics"];
    // Node 0 takes the secret from the environment, node 1 from a file: both ways torchrun users know.
    const [a, b] = await Promise.all([
      launchInNamespace(nsA, [...common, "--node-rank", "0", "--run-dir", join(dir, "a"), worker], { ...process.env, WEFT_JOB_SECRET: secret }),
      launchInNamespace(nsB, [...common, "--node-rank", "1", "--run-dir", join(dir, "b"), "--secret-file", secretFile, worker], { ...process.env, WEFT_JOB_SECRET: "" }),
    ]);
    assert.equal(a.code, 0, a.out);
    assert.equal(b.code, 0, b.out);
    assert.match(a.out, /\[0\] \{"rank":0,"worldSize":2,"ok":true\}/);
    assert.match(b.out, /\[1\] \{"rank":1,"worldSize":2,"ok":true\}/);
  } finally {
    spawnSync("ip", ["netns", "del", nsA]);
    spawnSync("ip", ["netns", "del", nsB]);
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(!spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout.includes(id), "namespaces left behind");
});
