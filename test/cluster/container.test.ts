// Weft in containers: a Docker daemon of the test's own (container-helpers/docker-daemon.ts: its
// own data root and socket, the host's firewall saved and put back), an image of the Dockerfile's
// runtime-stage layout made from local files (container-helpers/local-image.ts: no registry here
// to pull the base images from), and a 2-worker job in two containers on a user-defined network,
// one `weft launch` node each, node 1 meeting node 0 by its container name through Docker's
// embedded DNS. Its digest must be the one the same two launchers reach outside containers.
// Whatever happens, after() stops the daemon; the last test stops it itself, with a container
// still running and a network up, and checks that nothing is left: no process, mount, bridge,
// folder or firewall change.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { dockerMissing, startDockerDaemon, type DockerDaemon } from "./container-helpers/docker-daemon.js";
import { importLocalImage, writeLocalImageTar } from "./container-helpers/local-image.js";
import { readRuntimeStage } from "./container-helpers/runtime-stage.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
// The worker of the Slurm test: trains MNIST 3 steps with DDP and prints its parameter digest.
const WORKER = "dist/test/cluster/helpers/slurm-mnist-worker.js";
// What that worker and the launcher read from node_modules (an strace of a run): the rest of the
// production dependencies stays out, since vfs copies the whole image for each container.
const WORKER_MODULES = ["fflate", "fft.js", "nifti-reader-js", "mnist/package.json", "mnist/src/digits"];
const IMAGE = "weft-test:local";
const STORE_PORT = 29500;
const missing = dockerMissing();
const secret = randomBytes(16).toString("hex");
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

/** Runs a command with the job secret in its environment; killed after `limitMs`. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, limitMs = 90_000): Promise<Run> {
  const child = spawn(cmd, args, { cwd: root, env: { ...env, WEFT_JOB_SECRET: secret }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d));
  child.stderr.on("data", (d: Buffer) => (stderr += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
  return new Promise((resolve) => child.on("close", (code) => (clearTimeout(timer), resolve({ code, stdout, stderr }))));
}

/** The `weft launch` arguments of node `rank` of a 2-node job whose store is at `rdzv`. */
const launchArgs = (rank: number, rdzv: string): string[] => ["launch", "--nnodes", "2", "--node-rank", String(rank), "--nproc", "1", "--rdzv", rdzv, "--no-metrics", WORKER];

/**
 * A container of the test's image on `network`, named `name`. `-e WEFT_JOB_SECRET` without a value
 * passes the client's own, so the secret is in no command line.
 */
function runContainer(name: string, network: string, args: string[], options: { detach?: boolean; limitMs?: number } = {}): Promise<Run> {
  const docker = ["run", ...(options.detach ? ["--detach"] : []), "--pull", "never", "--name", name, "--network", network, "-e", "WEFT_JOB_SECRET", IMAGE];
  return run("docker", [...docker, ...args], daemon!.env, options.limitMs);
}

/** Waits until the container is running (or has already ended), up to 30 s. */
async function untilRunning(name: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const state = daemon!.docker(["inspect", "--format", "{{.State.Status}}", name], { allowFail: true }).stdout.trim();
    if (state === "running" || state === "exited") return;
    if (Date.now() > deadline) throw new Error(`container ${name} is "${state}", not running, after 30 s:\n${daemon!.log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The digest lines the launcher relays from its worker (`[rank] {...}`). */
function results(r: Run): Array<{ rank: number; worldSize: number; transport: string; steps: number; digest: string }> {
  return r.stdout.split("\n").flatMap((l) => /^\[\d+\] (\{.*"digest".*\})$/.exec(l)?.[1] ?? []).map((j) => JSON.parse(j) as ReturnType<typeof results>[number]);
}

const explain = (...runs: Run[]): string => `${runs.map((r, i) => `--- run ${i}: exit ${r.code}\n${r.stdout}${r.stderr}`).join("\n")}\n--- dockerd\n${daemon?.log() ?? ""}`;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test("an image of the Dockerfile's runtime stage, from local files: its working directory, user, environment and entry point", { skip: missing }, () => {
  const tar = join(daemon!.dir, "image.tar");
  const started = Date.now();
  const bytes = writeLocalImageTar(root, stage, { only: { node_modules: WORKER_MODULES }, extra: [WORKER] }, tar);
  importLocalImage(daemon!, stage, tar, IMAGE);
  const config = JSON.parse(daemon!.docker(["image", "inspect", "--format", "{{json .Config}}", IMAGE]).stdout) as { WorkingDir: string; User: string; Env: string[]; Entrypoint: string[] };
  assert.deepEqual([config.WorkingDir, config.User, config.Entrypoint], [stage.workdir, stage.user, stage.entrypoint]);
  for (const e of stage.env) assert.ok(config.Env.includes(e), `${e} is not in the image's environment ${config.Env.join(" ")}`);
  // The entry point itself runs there: `docker run IMAGE --version` is `weft --version`.
  const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
  const r = daemon!.docker(["run", "--rm", "--pull", "never", "--network", "none", IMAGE, "--version"], { allowFail: true });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.ok(r.stdout.includes(version), r.stdout);
  process.stdout.write(`# local image: ${(bytes / 1e6).toFixed(0)} MB tar, built and imported in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
});

test("two workers in two containers find each other by name and train to the digest of the same job outside containers", { skip: missing }, async () => {
  // Outside: the same two launchers on loopback, so the job has the same transport (TCP: one
  // worker per node) and the same ring; only the containers differ. (With two ranks the sum is
  // the same whichever rank adds first, so shared memory would give these bits too.)
  const port = await freePort();
  const outside = await Promise.all([0, 1].map((rank) => run(process.execPath, [join(root, stage.entrypoint[1]!), ...launchArgs(rank, `127.0.0.1:${port}`)], process.env)));
  assert.deepEqual(outside.map((r) => r.code), [0, 0], explain(...outside));
  const reference = outside.flatMap(results);
  assert.equal(reference.length, 2, explain(...outside));

  const network = `weft-net-${randomBytes(3).toString("hex")}`;
  daemon!.docker(["network", "create", network]);
  // Node 0 first: its name is in Docker's DNS once its container runs, and a launcher gives up at
  // once on a store host that does not resolve (docs/containers.md says the same to users).
  const node0 = runContainer("weft-node-0", network, launchArgs(0, `weft-node-0:${STORE_PORT}`));
  await untilRunning("weft-node-0");
  const inside = await Promise.all([node0, runContainer("weft-node-1", network, launchArgs(1, `weft-node-0:${STORE_PORT}`))]);
  assert.deepEqual(inside.map((r) => r.code), [0, 0], explain(...inside));
  const got = inside.flatMap(results);
  assert.deepEqual(got.map((l) => [l.rank, l.worldSize, l.transport, l.steps]).sort(), [[0, 2, "tcp", 3], [1, 2, "tcp", 3]], explain(...inside));
  assert.match(got[0]!.digest, /^[0-9a-f]{64}$/);
  assert.equal(got[0]!.digest, got[1]!.digest, "the two containers' replicas differ");
  assert.equal(got[0]!.digest, reference[0]!.digest, "the job in containers trained a different model than the same job outside");
});

test("a node whose store never comes fails in its container with one line, and stopping the daemon then leaves nothing behind", { skip: missing }, async () => {
  const network = `weft-net-${randomBytes(3).toString("hex")}`;
  daemon!.docker(["network", "create", network]);
  // Node 0 of a job whose node 1 never comes: it waits, and is still running when the daemon stops.
  const started = await runContainer("weft-waiting-0", network, launchArgs(0, `weft-waiting-0:${STORE_PORT}`), { detach: true });
  assert.equal(started.code, 0, explain(started));
  // Node 1 pointed at a name nothing on the network has.
  const lost = await runContainer("weft-lost-1", network, launchArgs(1, `weft-nobody:${STORE_PORT}`), { limitMs: 60_000 });
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
