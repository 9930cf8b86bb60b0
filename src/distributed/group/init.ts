// Worker bootstrap: find this worker's place in the job (explicit options, then what `weft launch`
// put in the environment, then Slurm's or PyTorch's variables: rendezvous/scheduler-env.ts), name
// the process, and build the process group.
//
// A script started with none of these (no WEFT_RANK or WEFT_WORLD_SIZE, no srun step, no RANK or
// WORLD_SIZE) is rank 0 of a group of one: every collective is the identity, run inline
// (executors/single-executor.ts), so the same script runs alone with `node train.js`, under
// `weft launch` and under `srun`. Once a source is there the script is taken to be a worker, and a
// missing variable is an error naming it: a half-set environment is a mistake to report, not a
// reason to train alone. With no launcher (srun, RANK/WORLD_SIZE, options), rank 0 serves the
// rendezvous store itself (rendezvous/embedded-store.ts) and stops it when its group is destroyed.
//
//   import { initProcessGroup } from "weft";
//   const pg = await initProcessGroup();                // rank, worldSize from the launcher
//   await pg.allReduce(grads);
//   await pg.destroy();
import type { EngineOptions } from "../collectives/engine.js";
import { bindThisProcess, parseCpuList } from "../base/cpu-binding.js";
import { ENV } from "../rendezvous/worker-env.js";
import { readSchedulerEnv, type EnvSource, type WorkerOverrides } from "../rendezvous/scheduler-env.js";
import { DEFAULT_EMBEDDED_RDZV_TIMEOUT_MS, prepareEmbeddedRendezvous } from "../rendezvous/embedded-store.js";
import { distAddon } from "../base/native-dist.js";
import { ProcessGroup } from "./process-group.js";
import { createTcpProcessGroup, type TcpGroupOptions } from "./tcp-group.js";
import { createMultiMachineGroup } from "./hierarchical-group.js";
import { stderrLogger } from "../base/log.js";
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
  /** Where the rank came from (Note [one source for the ranks] in rendezvous/scheduler-env.ts); "alone" for rank 0 of 1. */
  source: EnvSource | "alone";
  /** Who serves the embedded store: the launcher, or rank 0 of the job itself (no launcher started it). */
  storeServedBy: "launcher" | "rank 0";
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

/**
 * Finds this worker's place (options, then WEFT_*, then Slurm's, then PyTorch's variables), sets
 * the process title to `weft worker <rank>` (what `ps` and `top` show), binds the process to the
 * CPUs the launcher gave it, and ties its life to the launcher's. Started with none of them it
 * returns rank 0 of 1 and leaves the process as it is; with a source only partly there, it throws
 * naming the missing variable.
 */
export function initWorker(env: NodeJS.ProcessEnv = process.env, overrides: WorkerOverrides = {}): WorkerInfo {
  const place = readSchedulerEnv(env, overrides);
  if (place === undefined) {
    return {
      rank: 0, worldSize: 1, localRank: 0, localWorldSize: 1, nodeRank: 0, masterAddr: "", masterPort: 0, secret: "",
      cpus: null, runDir: env[ENV.runDir] ?? ".", jobId: env[ENV.jobId] ?? "job", source: "alone", storeServedBy: "launcher",
    };
  }
  const { source, rank, worldSize, localRank, localWorldSize, nodeRank, masterAddr, masterPort, secret, storeServedBy, jobId } = place;
  const info: WorkerInfo = {
    rank, worldSize, localRank, localWorldSize, nodeRank, masterAddr, masterPort, secret, source, storeServedBy, jobId,
    runDir: env[ENV.runDir] ?? ".",
    cpus: env[ENV.cpus] ? parseCpuList(env[ENV.cpus]!) : null,
    ...(env[ENV.rendezvous] ? { rendezvous: env[ENV.rendezvous] } : {}),
  };
  if (info.worldSize < 1) throw new Error(`the world size is ${info.worldSize} (from ${source === "weft" ? ENV.worldSize : `the ${source} environment`}): it must be at least 1`);
  // A worker that joins an elastic job later has a slot past the first generation's (its log's name).
  if (info.rank >= info.worldSize && env[ENV.join] !== "1") {
    throw new Error(source === "weft"
      ? `${ENV.rank}=${info.rank} is not below ${ENV.worldSize}=${info.worldSize}`
      : `rank ${info.rank} is not below the world size ${info.worldSize} (read from the ${source === "options" ? "options" : `${source} environment`}): check the rank and world size this worker was given`);
  }
  process.title = `weft worker ${info.rank}`;
  if (info.cpus && !bindThisProcess(info.cpus)) info.cpus = null;
  exitWithLauncher(env);
  return info;
}

export interface InitProcessGroupOptions extends Partial<EngineOptions>, WorkerOverrides {
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /**
   * With no launcher (srun, RANK/WORLD_SIZE, options): how long ranks other than 0 wait for rank
   * 0's store, ms. Default: WEFT_RDZV_TIMEOUT seconds, else 30 s.
   */
  rendezvousTimeoutMs?: number;
  /**
   * Run collectives through shared memory when every rank is on this machine (default true;
   * WEFT_SHM=0 turns it off). Send/recv and jobs on several machines use TCP.
   */
  sharedMemory?: boolean;
  /**
   * Over TCP, all-reduces up to 1 MiB (2 ranks; else up to smallMessageBytes) run on the calling
   * thread over links of their own (default true; false or WEFT_TCP_FAST=0 runs every collective
   * on the comm thread). docs/distributed.md, "Small messages over TCP".
   */
  fastPath?: boolean;
  /** Bytes per rank per shared-memory chunk (default 1 MiB; small values are for tests). */
  shmChunkBytes?: number;
  /**
   * On several machines with several ranks on each: all-reduce through shared memory inside each
   * machine and over TCP between machines (default true; false or WEFT_HIERARCHICAL=0 on any rank
   * keeps the flat TCP group, as does shared memory turned off). docs/distributed.md, "Several
   * ranks per machine"; WEFT_DEBUG=1 logs why a group is flat.
   */
  hierarchical?: boolean;
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
 * memory on one machine; on several machines with several ranks each, a HierarchicalProcessGroup:
 * group/hierarchical-group.ts); without the launcher, a group of one (`transport` "single").
 */
export async function initProcessGroup(options: InitProcessGroupOptions = {}): Promise<ProcessGroup> {
  const { env = process.env, sharedMemory, hierarchical, heartbeat, fastPath, rendezvousTimeoutMs, rank, worldSize, localRank, localWorldSize, nodeRank, masterAddr, masterPort, secret, ...rest } = options;
  const overrides = pick({ rank, worldSize, localRank, localWorldSize, nodeRank, masterAddr, masterPort, secret });
  if (readSchedulerEnv(env, overrides) === undefined) return new ProcessGroup(0, 1, new SingleExecutor(), "single");
  const beat = heartbeatOf(heartbeat, env); // before initWorker renames and binds the process
  const w = initWorker(env, overrides);
  const store = w.storeServedBy === "rank 0" && w.rendezvous === undefined
    ? await prepareEmbeddedRendezvous(w, rendezvousTimeoutMs ?? rdzvTimeoutMs(env))
    : undefined;
  const allLocal = w.localWorldSize === w.worldSize;
  const shm = sharedMemory ?? env.WEFT_SHM !== "0";
  const tcp: TcpGroupOptions = {
    ...rest,
    heartbeat: beat,
    fastPath: fastPath ?? env.WEFT_TCP_FAST !== "0",
    spinUs: w.cpus ? BOUND_SPIN_US : 0,
    rank: w.rank,
    worldSize: w.worldSize,
    secret: w.secret,
    storeHost: w.masterAddr,
    storePort: w.masterPort,
    ...(w.rendezvous === undefined ? {} : { rendezvous: w.rendezvous, jobId: w.jobId }),
  };
  let pg: ProcessGroup;
  try {
    pg = allLocal
      ? await createTcpProcessGroup({ ...tcp, sharedMemory: shm })
      : await createMultiMachineGroup(tcp, {
        place: { nodeRank: w.nodeRank, localRank: w.localRank },
        flatBecause: hierarchical === false ? "hierarchical: false" : env.WEFT_HIERARCHICAL === "0" ? "WEFT_HIERARCHICAL=0" : shm ? undefined : "shared memory is off",
        log: env.WEFT_DEBUG ? stderrLogger : undefined,
      });
  } catch (err) {
    await store?.close();
    throw err;
  }
  if (store) {
    // Rank 0's store lives as long as its group: the group's subgroups meet through it too.
    const destroy = pg.destroy.bind(pg);
    pg.destroy = async () => {
      try {
        await destroy();
      } finally {
        await store.close();
      }
    };
  }
  return pg;
}

/** WEFT_RDZV_TIMEOUT (seconds) as ms, else the default. */
function rdzvTimeoutMs(env: NodeJS.ProcessEnv): number {
  const raw = env[ENV.rdzvTimeout];
  if (raw === undefined || raw === "") return DEFAULT_EMBEDDED_RDZV_TIMEOUT_MS;
  const s = Number(raw);
  if (!Number.isFinite(s) || s <= 0) throw new RangeError(`${ENV.rdzvTimeout}=${raw} is not a positive number of seconds`);
  return s * 1000;
}

/** The overrides that were given (exactOptionalPropertyTypes: no key set to undefined). */
function pick(o: { [K in keyof WorkerOverrides]: WorkerOverrides[K] | undefined }): WorkerOverrides {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as WorkerOverrides;
}
