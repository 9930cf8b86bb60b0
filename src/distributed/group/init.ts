// Worker bootstrap: read what `weft launch` put in the environment, name the process, and build
// the process group.
//
// A script started without the launcher (neither WEFT_RANK nor WEFT_WORLD_SIZE set) is rank 0 of
// a group of one: every collective is the identity, run inline (executors/single-executor.ts), so
// the same script runs alone with `node train.js` and under `weft launch`. Once either variable is
// set the script is taken to be a worker, and a missing variable is an error naming it: a
// half-set environment is a mistake to report, not a reason to train alone.
//
//   import { initProcessGroup } from "weft";
//   const pg = await initProcessGroup();                // rank, worldSize from the launcher
//   await pg.allReduce(grads);
//   await pg.destroy();
import type { EngineOptions } from "../collectives/engine.js";
import { bindThisProcess, parseCpuList } from "../base/cpu-binding.js";
import { ENV } from "../rendezvous/worker-env.js";
import { distAddon } from "../base/native-dist.js";
import { ProcessGroup } from "./process-group.js";
import { createTcpProcessGroup } from "./tcp-group.js";
import { SingleExecutor } from "../executors/single-executor.js";
import { checkHeartbeat, DEFAULT_HEARTBEAT, type HeartbeatOptions } from "../transport/link-watch.js";

export interface WorkerInfo {
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize: number;
  nodeRank: number;
  masterAddr: string;
  masterPort: number;
  secret: string;
  /** The CPUs this worker was bound to (Note [CPU binding]), or null. */
  cpus: number[] | null;
  /** The rendezvous when it is not the embedded store at masterAddr:masterPort (an etcd:// URL), else undefined. */
  rendezvous?: string;
  /** runs/<job-id>/ : where metrics and logs of this job go. */
  runDir: string;
  jobId: string;
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (v === undefined || v === "") {
    throw new Error(
      `${name} is not set: start this script with \`weft launch --nproc N script.js\` (or set the WEFT_* variables yourself), ` +
        `or unset both ${ENV.rank} and ${ENV.worldSize} to run it alone as rank 0 of 1`,
    );
  }
  return v;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback?: number): number {
  const raw = env[name];
  if ((raw === undefined || raw === "") && fallback !== undefined) return fallback;
  const v = Number(required(env, name));
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name}=${raw} is not a non-negative integer`);
  return v;
}

/**
 * Asks the kernel to stop this worker (SIGTERM) when the launcher that started it dies, even by
 * SIGKILL: otherwise its workers would go on training for nobody. A launcher already gone means
 * the job is over.
 */
function exitWithLauncher(env: NodeJS.ProcessEnv): void {
  const launcher = Number(env[ENV.launcherPid]);
  if (!distAddon || !Number.isInteger(launcher) || launcher <= 0 || launcher !== process.ppid) return;
  if (!distAddon.exitWithParent(launcher)) process.kill(process.pid, "SIGTERM");
}

/** Neither WEFT_RANK nor WEFT_WORLD_SIZE is set: the script was started without the launcher. */
function runsAlone(env: NodeJS.ProcessEnv): boolean {
  const unset = (name: string): boolean => env[name] === undefined || env[name] === "";
  return unset(ENV.rank) && unset(ENV.worldSize);
}

/**
 * Reads the launcher's environment, sets the process title to `weft worker <rank>` (what `ps`
 * and `top` show), binds the process to the CPUs the launcher gave it, and ties its life to the
 * launcher's. Started without the launcher (neither WEFT_RANK nor WEFT_WORLD_SIZE set) it returns
 * rank 0 of 1 and leaves the process as it is; with some WEFT_* variables but not all, it throws
 * naming the missing one.
 */
export function initWorker(env: NodeJS.ProcessEnv = process.env): WorkerInfo {
  if (runsAlone(env)) {
    return {
      rank: 0, worldSize: 1, localRank: 0, localWorldSize: 1, nodeRank: 0, masterAddr: "", masterPort: 0, secret: "",
      cpus: null, runDir: env[ENV.runDir] ?? ".", jobId: env[ENV.jobId] ?? "job",
    };
  }
  const info: WorkerInfo = {
    rank: integer(env, ENV.rank),
    worldSize: integer(env, ENV.worldSize),
    localRank: integer(env, ENV.localRank, 0),
    localWorldSize: integer(env, ENV.localWorldSize, 1),
    nodeRank: integer(env, ENV.nodeRank, 0),
    masterAddr: required(env, ENV.masterAddr),
    masterPort: integer(env, ENV.masterPort),
    secret: required(env, ENV.secret),
    runDir: env[ENV.runDir] ?? ".",
    jobId: env[ENV.jobId] ?? "job",
    cpus: env[ENV.cpus] ? parseCpuList(env[ENV.cpus]!) : null,
    ...(env[ENV.rendezvous] ? { rendezvous: env[ENV.rendezvous] } : {}),
  };
  // A worker that joins an elastic job later has a slot past the first generation's (its log's name).
  if (info.rank >= info.worldSize && env[ENV.join] !== "1") throw new Error(`${ENV.rank}=${info.rank} is not below ${ENV.worldSize}=${info.worldSize}`);
  process.title = `weft worker ${info.rank}`;
  if (info.cpus && !bindThisProcess(info.cpus)) info.cpus = null;
  exitWithLauncher(env);
  return info;
}

export interface InitProcessGroupOptions extends Partial<EngineOptions> {
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /**
   * Run collectives through shared memory when every rank is on this machine (default true;
   * WEFT_SHM=0 turns it off). Send/recv and jobs on several machines use TCP.
   */
  sharedMemory?: boolean;
  /** Bytes per rank per shared-memory chunk (default 1 MiB; small values are for tests). */
  shmChunkBytes?: number;
  groupName?: string;
  listenHost?: string;
  connectTimeoutMs?: number;
  /**
   * Heartbeat period and the silence after which a peer is lost (transport/link-watch.ts;
   * default 100 ms and 1 s). Without it, WEFT_HEARTBEAT_MS and WEFT_SILENCE_MS set either one.
   */
  heartbeat?: HeartbeatOptions;
}

/** One of the heartbeat variables, as a number of ms; undefined when unset. */
function heartbeatMs(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${name}=${raw} is not a positive number of milliseconds`);
  return v;
}

/** The heartbeat from the options, else from WEFT_HEARTBEAT_MS / WEFT_SILENCE_MS over the defaults; checked. */
function heartbeatOf(options: HeartbeatOptions | undefined, env: NodeJS.ProcessEnv): HeartbeatOptions {
  const h = options ?? {
    intervalMs: heartbeatMs(env, "WEFT_HEARTBEAT_MS") ?? DEFAULT_HEARTBEAT.intervalMs,
    silenceMs: heartbeatMs(env, "WEFT_SILENCE_MS") ?? DEFAULT_HEARTBEAT.silenceMs,
  };
  checkHeartbeat(h, options ? "initProcessGroup heartbeat" : "WEFT_HEARTBEAT_MS / WEFT_SILENCE_MS");
  return h;
}

/**
 * How long a shared-memory wait spins before sleeping. A worker bound to a core of its own
 * spins through the usual gap between ranks (a few hundred µs to a few ms of a training step):
 * a sleeping core is slow to wake, and on a virtual machine it may be handed to someone else.
 * Unbound workers sleep at once, since a spinning one could hold the core a peer needs.
 */
const BOUND_SPIN_US = 5000;

/**
 * initWorker(), then a process group of all the job's workers (authenticated TCP links; shared
 * memory on one machine); without the launcher, a group of one (`transport` "single").
 */
export async function initProcessGroup(options: InitProcessGroupOptions = {}): Promise<ProcessGroup> {
  const { env = process.env, sharedMemory, heartbeat, ...rest } = options;
  if (runsAlone(env)) return new ProcessGroup(0, 1, new SingleExecutor(), "single");
  const beat = heartbeatOf(heartbeat, env); // before initWorker renames and binds the process
  const w = initWorker(env);
  const allLocal = w.localWorldSize === w.worldSize;
  return createTcpProcessGroup({
    ...rest,
    heartbeat: beat,
    sharedMemory: allLocal && (sharedMemory ?? env.WEFT_SHM !== "0"),
    spinUs: w.cpus ? BOUND_SPIN_US : 0,
    rank: w.rank,
    worldSize: w.worldSize,
    secret: w.secret,
    storeHost: w.masterAddr,
    storePort: w.masterPort,
    ...(w.rendezvous === undefined ? {} : { rendezvous: w.rendezvous, jobId: w.jobId }),
  });
}
