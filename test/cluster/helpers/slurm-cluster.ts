// A real one-node Slurm cluster for a test: munged, slurmctld and slurmd (Debian's slurm-wlm and
// munge) started by hand as root from a generated slurm.conf in a temporary folder, on free
// ports, with settings that need no cgroups, no accounting and no systemd. stop() cancels its
// jobs, stops the daemons by their pid files and removes the folder; a test process killed before
// it could (SIGKILL, a runner's timeout) leaves an owner.pid behind, and the next start sweeps
// those clusters away the same way.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../helpers/free-port.js";

export interface SlurmCluster {
  /** The cluster's folder: slurm.conf, the daemons' logs, state and pid files. */
  dir: string;
  /** The one node's name (this host's short hostname). */
  node: string;
  /** The environment srun, sbatch and scontrol need to find this cluster (SLURM_CONF). */
  env: NodeJS.ProcessEnv;
  /** The daemons' logs, for a failing assertion's message. */
  logs(): string;
  stop(): void;
}

const PREFIX = "weft-slurm-";
const DAEMONS = ["munged", "slurmctld", "slurmd"] as const;

/** Why this machine cannot run the cluster (not root, a binary missing), or undefined. */
export function slurmMissing(): string | undefined {
  if (process.getuid?.() !== 0) return "the Slurm test starts slurmd and munged, which run as root";
  for (const bin of ["munged", "slurmctld", "slurmd", "srun", "sbatch", "scontrol", "sinfo"]) {
    if (spawnSync("sh", ["-c", `command -v ${bin}`]).status !== 0) return `${bin} is not installed (apt-get install slurm-wlm munge)`;
  }
  return undefined;
}


function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops the daemons whose pid files are in `dir` (TERM, then KILL after 3 s) and removes it. */
function tearDown(dir: string, env: NodeJS.ProcessEnv | undefined): void {
  if (env && existsSync(join(dir, "run", "slurmctld.pid"))) {
    // Jobs first, so no slurmstepd outlives slurmd with a task of ours.
    spawnSync("scancel", ["--full", "--quiet", "--user", "root"], { env, timeout: 5000 });
    for (let i = 0; i < 25 && spawnSync("squeue", ["-h"], { env, encoding: "utf8", timeout: 5000 }).stdout?.trim(); i++) spawnSync("sleep", ["0.2"]);
  }
  const pids = DAEMONS.map((d) => join(dir, "run", `${d}.pid`))
    .filter((f) => existsSync(f))
    .map((f) => Number(readFileSync(f, "utf8").trim()))
    .filter((p) => Number.isInteger(p) && p > 0 && alive(p));
  for (const p of pids) process.kill(p, "SIGTERM");
  for (let i = 0; i < 30 && pids.some(alive); i++) spawnSync("sleep", ["0.1"]);
  for (const p of pids) if (alive(p)) process.kill(p, "SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}

/** Clusters whose test process is gone (killed before its finally ran): stopped and removed. */
function sweepOrphans(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = join(tmpdir(), name);
    const owner = Number(existsSync(join(dir, "owner.pid")) ? readFileSync(join(dir, "owner.pid"), "utf8") : "0");
    if (owner > 0 && alive(owner)) continue;
    tearDown(dir, { ...process.env, SLURM_CONF: join(dir, "slurm.conf") });
  }
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, what: string): void {
  const r = spawnSync(cmd, args, { env, encoding: "utf8", timeout: 15_000 });
  if (r.status !== 0) throw new Error(`${what}: ${cmd} exited with ${r.status ?? r.signal}: ${(r.stderr ?? "").trim()}`);
}

/** Starts munged, slurmctld and slurmd, and waits until the node is idle (up to 40 s: a loaded machine). */
export async function startSlurm(): Promise<SlurmCluster> {
  sweepOrphans();
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  writeFileSync(join(dir, "owner.pid"), String(process.pid));
  for (const d of ["munge", "state", "spool", "log", "run"]) mkdirSync(join(dir, d), { mode: 0o700 });
  // munged refuses a key others can read; its folder must be traversable for clients to reach the socket.
  chmodSync(dir, 0o755);
  chmodSync(join(dir, "munge"), 0o755);
  const key = join(dir, "munge", "munge.key");
  writeFileSync(key, randomBytes(1024), { mode: 0o400 });
  const socket = join(dir, "munge", "munge.socket");
  const node = hostname().split(".")[0]!;
  const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
  const conf = join(dir, "slurm.conf");
  // At least 4 CPUs (config_overrides lets slurmd take the node as configured): two steps of
  // two tasks can then run side by side on a two-core machine, as the kill test's leftovers may.
  const cpus = Math.max(4, availableParallelism());
  writeFileSync(conf, [
    "ClusterName=weft-test",
    `SlurmctldHost=${node}(127.0.0.1)`,
    "SlurmUser=root",
    "SlurmdUser=root",
    "AuthType=auth/munge",
    "CredType=cred/munge",
    `AuthInfo=socket=${socket}`,
    `SlurmctldPort=${ctldPort}`,
    `SlurmdPort=${slurmdPort}`,
    `StateSaveLocation=${join(dir, "state")}`,
    `SlurmdSpoolDir=${join(dir, "spool")}`,
    `SlurmctldPidFile=${join(dir, "run", "slurmctld.pid")}`,
    `SlurmdPidFile=${join(dir, "run", "slurmd.pid")}`,
    `SlurmctldLogFile=${join(dir, "log", "slurmctld.log")}`,
    `SlurmdLogFile=${join(dir, "log", "slurmd.log")}`,
    // No cgroups (a container rarely lets us have them): processes are tracked by parent pid.
    "ProctrackType=proctrack/linuxproc",
    "TaskPlugin=task/none",
    "JobAcctGatherType=jobacct_gather/none",
    "AccountingStorageType=accounting_storage/none",
    "JobCompType=jobcomp/none",
    "SchedulerType=sched/builtin",
    "SelectType=select/cons_tres",
    "SelectTypeParameters=CR_Core",
    "SlurmdParameters=config_overrides",
    "MpiDefault=none",
    "ReturnToService=2",
    "InactiveLimit=0",
    "KillWait=2",
    "MinJobAge=2",
    `NodeName=${node} NodeAddr=127.0.0.1 CPUs=${cpus} State=UNKNOWN`,
    `PartitionName=test Nodes=${node} Default=YES MaxTime=10 State=UP OverSubscribe=YES`,
    "",
  ].join("\n"));
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("SLURM_")));
  env.SLURM_CONF = conf;
  const cluster: SlurmCluster = {
    dir, node, env,
    logs: () => ["slurmctld", "slurmd"].map((d) => {
      const f = join(dir, "log", `${d}.log`);
      return `--- ${d}.log\n${existsSync(f) ? readFileSync(f, "utf8").split("\n").slice(-30).join("\n") : "(none)"}`;
    }).join("\n"),
    stop: () => tearDown(dir, env),
  };
  try {
    run("munged", [`--socket=${socket}`, `--key-file=${key}`, `--pid-file=${join(dir, "run", "munged.pid")}`, `--log-file=${join(dir, "log", "munged.log")}`, `--seed-file=${join(dir, "munge", "seed")}`, "--force"], env, "starting munged");
    run("slurmctld", ["-f", conf], env, "starting slurmctld");
    run("slurmd", ["-f", conf], env, "starting slurmd");
    for (let i = 0; ; i++) {
      const state = spawnSync("sinfo", ["-h", "-o", "%t"], { env, encoding: "utf8", timeout: 5000 }).stdout?.trim();
      if (state === "idle") break;
      if (i > 200) throw new Error(`the Slurm node did not come up within 40 s (sinfo says "${state}")\n${cluster.logs()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (err) {
    cluster.stop();
    throw err;
  }
  return cluster;
}
