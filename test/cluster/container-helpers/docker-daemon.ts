// A Docker daemon of a test's own (Debian's docker.io): dockerd with its data root, exec root,
// pid file and socket in a temporary folder, the vfs storage driver (no overlay mounts needed),
// no default bridge (the test makes its own network), and the host's firewall saved before and
// restored after. stop() removes its containers and networks, stops dockerd and its containerd
// by their pid files, unmounts what is left under the folder, deletes it, and says what is still
// there: a process naming the folder, a bridge, the folder, a firewall difference. A test process
// killed before it could stop leaves an owner.pid behind; the next start sweeps such daemons away.
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { firewallChanges, restoreFirewall, saveFirewall, type FirewallState } from "./firewall.js";

const PREFIX = "weft-docker-";

export interface DockerDaemon {
  dir: string;
  /** The environment the docker client needs to talk to this daemon (DOCKER_HOST). */
  env: NodeJS.ProcessEnv;
  /** Runs the docker client; throws with its stderr when it fails. */
  docker(args: string[], options?: { allowFail?: boolean }): SpawnSyncReturns<string>;
  /** dockerd's log, for a failing assertion's message. */
  log(): string;
  /** Stops everything and puts the firewall back; returns what was not cleaned up (empty when all was). */
  stop(): string[];
}

/** Why this machine cannot run the daemon (not root, a binary missing), or undefined. */
export function dockerMissing(): string | undefined {
  if (process.getuid?.() !== 0) return "the container test starts dockerd, which runs as root";
  for (const bin of ["dockerd", "docker", "containerd", "runc", "iptables-save", "ip6tables-save", "tar"]) {
    if (spawnSync("sh", ["-c", `command -v ${bin}`]).status !== 0) return `${bin} is not installed (apt-get install docker.io)`;
  }
  return undefined;
}

/**
 * Whether pid runs. A zombie does not: dockerd is this process's child, and while stop() waits
 * synchronously the event loop cannot reap it, so kill(pid, 0) would go on succeeding on its corpse.
 */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The state follows the command's closing parenthesis (the command may hold spaces and parentheses).
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

const readPid = (file: string): number | undefined => (existsSync(file) ? Number(readFileSync(file, "utf8").trim()) || undefined : undefined);

async function waitUntil(what: string, ok: () => boolean, ms: number, detail: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what} within ${ms / 1000} s:\n${detail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function killAndWait(pid: number | undefined): void {
  if (pid === undefined || !alive(pid)) return;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + 10_000;
  while (alive(pid) && Date.now() < deadline) spawnSync("sleep", ["0.1"]);
  if (!alive(pid)) return;
  process.kill(pid, "SIGKILL");
  // SIGKILL is not instant either: give the kernel a moment before stop() looks for what is left.
  for (let i = 0; i < 20 && alive(pid); i++) spawnSync("sleep", ["0.1"]);
}

/** Mount points under dir (container network namespaces, a container's /etc/hosts), deepest first. */
function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mounts", "utf8").split("\n").map((l) => l.split(" ")[1] ?? "").filter((m) => m.startsWith(`${dir}/`)).sort().reverse();
}

/** The bridge interfaces a user-defined network made (br-<id>), by the networks' ids. */
function bridgesOf(networkIds: string[]): string[] {
  return networkIds.map((id) => `br-${id.slice(0, 12)}`);
}

/** Processes whose command line names dir (dockerd, containerd, the containers' shims), but not this one. */
function processesUnder(dir: string): string[] {
  return readdirSync("/proc").filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid && alive(Number(e))).flatMap((pid) => {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
      return cmdline.includes(dir) ? [`${cmdline.split(" ")[0]} (pid ${pid})`] : [];
    } catch {
      return []; // ended while we looked
    }
  });
}

/** Runs the docker client against the daemon whose folder is dir. */
function dockerAt(dir: string, args: string[], options: { allowFail?: boolean } = {}): SpawnSyncReturns<string> {
  const r = spawnSync("docker", args, { env: dockerEnv(dir), encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0 && !options.allowFail) throw new Error(`docker ${args.slice(0, 3).join(" ")}: ${(r.stderr || r.error?.message || "").trim()}`);
  return r;
}

const dockerEnv = (dir: string): NodeJS.ProcessEnv => ({ ...process.env, DOCKER_HOST: `unix://${join(dir, "docker.sock")}` });

/**
 * Removes the daemon's containers and networks while it still answers, stops it, and deletes its
 * folder; returns what is left. The same for a test's own stop() and for the sweep of an orphan
 * (a killed test's dockerd goes on running, detached, so the sweep can still ask it).
 */
function stopDaemon(dir: string): string[] {
  const left: string[] = [];
  let bridges: string[] = [];
  if (existsSync(join(dir, "docker.sock"))) {
    const ids = dockerAt(dir, ["ps", "-aq"], { allowFail: true }).stdout.split("\n").filter(Boolean);
    if (ids.length) dockerAt(dir, ["rm", "-f", ...ids], { allowFail: true });
    const nets = dockerAt(dir, ["network", "ls", "-q", "--filter", "type=custom"], { allowFail: true }).stdout.split("\n").filter(Boolean);
    for (const n of nets) dockerAt(dir, ["network", "rm", n], { allowFail: true });
    bridges = bridgesOf(nets);
  }
  // Container shims run in their own process groups; containerd stops them with their containers.
  killAndWait(readPid(join(dir, "dockerd.pid")));
  killAndWait(readPid(join(dir, "exec", "containerd", "containerd.pid")));
  for (const p of processesUnder(dir)) left.push(`${p} still runs`);
  // A bridge the daemon could not remove (a network rm that failed) is removed by hand.
  for (const br of bridges) {
    spawnSync("ip", ["link", "del", br]);
    if (spawnSync("ip", ["link", "show", br]).status === 0) left.push(`bridge ${br} is left`);
  }
  for (const m of mountsUnder(dir)) spawnSync("umount", ["-l", m]);
  rmSync(dir, { recursive: true, force: true });
  if (existsSync(dir)) left.push(`${dir} could not be removed`);
  return left;
}

/** Daemons of test processes that died before stopping theirs. */
function sweepOrphans(): void {
  for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith(PREFIX))) {
    const dir = join(tmpdir(), name);
    const owner = readPid(join(dir, "owner.pid"));
    if (owner !== undefined && alive(owner)) continue;
    stopDaemon(dir);
    const saved = join(dir, "..", `${name}.firewall.json`);
    if (existsSync(saved)) {
      restoreFirewall(JSON.parse(readFileSync(saved, "utf8")) as FirewallState);
      rmSync(saved);
    }
  }
}

export async function startDockerDaemon(): Promise<DockerDaemon> {
  sweepOrphans();
  const firewall = saveFirewall();
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  // Beside the folder, not in it: a sweep that removes the folder first can still restore the firewall.
  const savedFirewall = `${dir}.firewall.json`;
  writeFileSync(savedFirewall, JSON.stringify(firewall));
  writeFileSync(join(dir, "owner.pid"), String(process.pid));
  const socket = join(dir, "docker.sock");
  const logFile = join(dir, "dockerd.log");
  const log = (): string => (existsSync(logFile) ? readFileSync(logFile, "utf8").split("\n").filter((l) => !/level=(info|debug)/.test(l)).slice(-30).join("\n") : "");
  const docker: DockerDaemon["docker"] = (args, options) => dockerAt(dir, args, options);
  const stop = (): string[] => {
    const left = stopDaemon(dir);
    try {
      restoreFirewall(firewall);
      rmSync(savedFirewall, { force: true });
    } catch (err) {
      left.push((err as Error).message);
    }
    left.push(...firewallChanges(firewall));
    return left;
  };
  const out = openSync(logFile, "a");
  const child = spawn("dockerd", [
    "--data-root", join(dir, "data"), "--exec-root", join(dir, "exec"), "--pidfile", join(dir, "dockerd.pid"),
    "-H", `unix://${socket}`, "--storage-driver", "vfs", "--bridge", "none", "--log-level", "warn",
  ], { stdio: ["ignore", out, out], detached: true });
  child.unref();
  const daemon: DockerDaemon = { dir, env: dockerEnv(dir), docker, log, stop };
  try {
    await waitUntil("dockerd did not answer", () => existsSync(socket) && docker(["version"], { allowFail: true }).status === 0, 30_000, log);
  } catch (err) {
    stop();
    throw err;
  }
  return daemon;
}
