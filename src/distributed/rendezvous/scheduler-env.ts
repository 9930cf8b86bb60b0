// Where a worker finds its place in the job: its rank, the job's size, its place on its node, and
// the rendezvous store's host:port. Four sources, in this order (docs/clusters.md, "Where a
// worker finds its rank"):
//
//   1. explicit options (initProcessGroup / initWorker arguments),
//   2. WEFT_* variables (what `weft launch` sets, worker-env.ts),
//   3. Slurm's variables, for a task started by srun (SLURM_PROCID, SLURM_NTASKS, ...),
//   4. PyTorch's (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT).
//
// Note [one source for the ranks]
// The rank, world size, local rank, local world size and node rank come from one source, the
// first of 2-4 that is present; options override any of them one by one. They are never mixed
// across sources: a worker that `weft launch` started inside an srun step inherits the step's
// SLURM_PROCID (the launcher's task), which is not its rank. The rendezvous address is read
// field by field, options then WEFT_MASTER_ADDR / WEFT_MASTER_PORT then that same source, so a
// Slurm user can pick the port (WEFT_MASTER_PORT) and keep Slurm's ranks.
import { ENV } from "./worker-env.js";
import { expandHostList, expandTasksPerNode } from "./host-list.js";

/** What a caller may give explicitly; each one overrides the environment. */
export interface WorkerOverrides {
  rank?: number;
  worldSize?: number;
  localRank?: number;
  localWorldSize?: number;
  nodeRank?: number;
  /** The rendezvous store's host (rank 0's machine when no launcher serves it). */
  masterAddr?: string;
  masterPort?: number;
  /** The job secret (at least 16 characters); else WEFT_JOB_SECRET. */
  secret?: string;
}

/** Which source gave the ranks (Note [one source for the ranks]). */
export type EnvSource = "options" | "weft" | "slurm" | "torchrun";

export interface SchedulerPlace {
  source: EnvSource;
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize: number;
  nodeRank: number;
  masterAddr: string;
  masterPort: number;
  secret: string;
  /**
   * Who serves the embedded rendezvous store: the launcher (`weft launch` started this worker),
   * or this job's rank 0 itself (srun, a PyTorch-style launcher, explicit options: nobody else will).
   */
  storeServedBy: "launcher" | "rank 0";
  /** WEFT_JOB_ID, else `slurm-<SLURM_JOB_ID>` under Slurm, else "job". */
  jobId: string;
}

/** The first port of the range a Slurm job's store port is taken from (slurmPort). */
export const SLURM_PORT_BASE = 20000;
/** How many ports that range has: below Linux's ephemeral ports (32768 and up), which outgoing connections use. */
export const SLURM_PORT_SPAN = 10000;

/**
 * The rendezvous port of a Slurm job without WEFT_MASTER_PORT: 20000 + SLURM_JOB_ID mod 10000.
 * Every task of the job computes the same one with no message passed; two jobs share a port
 * only when their ids differ by a multiple of 10000, and two steps of one job running at the
 * same time need WEFT_MASTER_PORT to tell them apart.
 */
export function slurmPort(jobId: number): number {
  return SLURM_PORT_BASE + (jobId % SLURM_PORT_SPAN);
}

/** The variables each source gives the ranks through (the first present name of a list wins). */
const SLURM_NAMES = {
  rank: ["SLURM_PROCID"],
  worldSize: ["SLURM_STEP_NUM_TASKS", "SLURM_NTASKS"],
  localRank: ["SLURM_LOCALID"],
  nodeRank: ["SLURM_NODEID"],
  tasksPerNode: ["SLURM_STEP_TASKS_PER_NODE", "SLURM_TASKS_PER_NODE"],
  nodeList: ["SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST"],
  jobId: ["SLURM_JOB_ID"],
} as const;
const TORCH_NAMES = { rank: "RANK", worldSize: "WORLD_SIZE", localRank: "LOCAL_RANK", localWorldSize: "LOCAL_WORLD_SIZE", nodeRank: "GROUP_RANK", masterAddr: "MASTER_ADDR", masterPort: "MASTER_PORT" } as const;

const set = (env: NodeJS.ProcessEnv, name: string): boolean => env[name] !== undefined && env[name] !== "";

/** The source of the ranks, or undefined when there is none (a script run alone). */
function sourceOf(env: NodeJS.ProcessEnv, o: WorkerOverrides): EnvSource | undefined {
  if (set(env, ENV.rank) || set(env, ENV.worldSize)) return "weft";
  // A task of an srun step; the batch script itself has SLURM_PROCID=0 too, but no step id, and is not a worker.
  if (set(env, "SLURM_PROCID") && (set(env, "SLURM_STEP_ID") || set(env, "SLURM_STEPID"))) return "slurm";
  if (set(env, TORCH_NAMES.rank) || set(env, TORCH_NAMES.worldSize)) return "torchrun";
  if (o.rank !== undefined || o.worldSize !== undefined) return "options";
  return undefined;
}

/** What to check when a variable of `source` is missing: one clause, the end of the error line. */
function hintFor(source: EnvSource, weftName: string): string {
  switch (source) {
    case "weft":
      return `start this script with \`weft launch --nproc N script.js\` (or set the WEFT_* variables yourself), or unset both ${ENV.rank} and ${ENV.worldSize} to run it alone as rank 0 of 1`;
    case "slurm":
      return `srun sets it for each task it starts: start the worker with srun (one task per worker), or set ${weftName} yourself`;
    case "torchrun":
      return `a worker given ${TORCH_NAMES.rank}/${TORCH_NAMES.worldSize} (PyTorch's convention) needs it too, or set ${weftName}`;
    case "options":
      return `pass it to initProcessGroup() with rank and worldSize, or set ${weftName}`;
  }
}

/** Reads the variables one source and the overrides give. */
class Reader {
  constructor(
    readonly env: NodeJS.ProcessEnv,
    readonly source: EnvSource,
  ) {}

  /** The first set variable of `names`, or an Error naming them and what to check. */
  text(names: readonly string[], weftName: string): string {
    for (const n of names) if (set(this.env, n)) return this.env[n]!;
    const shown = names.length === 1 ? names[0]! : `${names[0]} (or ${names.slice(1).join(", ")})`;
    throw new Error(`${shown} is not set: ${hintFor(this.source, weftName)}`);
  }

  integer(names: readonly string[], weftName: string, fallback?: number): number {
    if (fallback !== undefined && !names.some((n) => set(this.env, n))) return fallback;
    const raw = this.text(names, weftName);
    const v = Number(raw);
    const name = names.find((n) => set(this.env, n))!;
    if (!Number.isInteger(v) || v < 0) throw new Error(`${name}=${raw} is not a non-negative integer`);
    return v;
  }
}

interface Ranks {
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize: number;
  nodeRank: number;
}

function weftRanks(r: Reader): Ranks {
  return {
    rank: r.integer([ENV.rank], ENV.rank),
    worldSize: r.integer([ENV.worldSize], ENV.worldSize),
    localRank: r.integer([ENV.localRank], ENV.localRank, 0),
    localWorldSize: r.integer([ENV.localWorldSize], ENV.localWorldSize, 1),
    nodeRank: r.integer([ENV.nodeRank], ENV.nodeRank, 0),
  };
}

function slurmRanks(r: Reader): Ranks {
  const nodeRank = r.integer(SLURM_NAMES.nodeRank, ENV.nodeRank);
  const perNodeSpec = set(r.env, "SLURM_NTASKS_PER_NODE") && !SLURM_NAMES.tasksPerNode.some((n) => set(r.env, n))
    ? r.env.SLURM_NTASKS_PER_NODE!
    : r.text(SLURM_NAMES.tasksPerNode, ENV.localWorldSize);
  const perNode = expandTasksPerNode(perNodeSpec);
  const localWorldSize = perNode[Math.min(nodeRank, perNode.length - 1)]!;
  return {
    rank: r.integer(SLURM_NAMES.rank, ENV.rank),
    worldSize: r.integer(SLURM_NAMES.worldSize, ENV.worldSize),
    localRank: r.integer(SLURM_NAMES.localRank, ENV.localRank),
    localWorldSize,
    nodeRank,
  };
}

function torchRanks(r: Reader): Ranks {
  return {
    rank: r.integer([TORCH_NAMES.rank], ENV.rank),
    worldSize: r.integer([TORCH_NAMES.worldSize], ENV.worldSize),
    localRank: r.integer([TORCH_NAMES.localRank], ENV.localRank, 0),
    localWorldSize: r.integer([TORCH_NAMES.localWorldSize], ENV.localWorldSize, 1),
    nodeRank: r.integer([TORCH_NAMES.nodeRank], ENV.nodeRank, 0),
  };
}

function optionRanks(o: WorkerOverrides): Ranks {
  if (o.rank === undefined || o.worldSize === undefined) {
    throw new Error(`initProcessGroup was given ${o.rank === undefined ? "worldSize but not rank" : "rank but not worldSize"}: give both, or neither to read them from the environment`);
  }
  return { rank: o.rank, worldSize: o.worldSize, localRank: 0, localWorldSize: 1, nodeRank: 0 };
}

/** The rendezvous host and port of `source` when neither options nor WEFT_MASTER_* give them. */
function sourceAddress(r: Reader, want: { addr: boolean; port: boolean }): { addr?: string; port?: number } {
  const out: { addr?: string; port?: number } = {};
  switch (r.source) {
    case "slurm": {
      if (want.addr) {
        const list = r.text(SLURM_NAMES.nodeList, ENV.masterAddr);
        const first = expandHostList(list)[0];
        if (first === undefined) throw new Error(`${SLURM_NAMES.nodeList[0]} is empty: set ${ENV.masterAddr} to the node of rank 0`);
        out.addr = first;
      }
      if (want.port) out.port = slurmPort(r.integer(SLURM_NAMES.jobId, ENV.masterPort));
      return out;
    }
    case "torchrun":
      if (want.addr) out.addr = r.text([TORCH_NAMES.masterAddr], ENV.masterAddr);
      if (want.port) out.port = r.integer([TORCH_NAMES.masterPort], ENV.masterPort);
      return out;
    default:
      // A launcher's worker, or options alone: the address is WEFT_MASTER_* or nothing.
      if (want.addr) out.addr = r.text([ENV.masterAddr], ENV.masterAddr);
      if (want.port) out.port = r.integer([ENV.masterPort], ENV.masterPort);
      return out;
  }
}

/**
 * This worker's place in the job, from options and the environment in the order above; undefined
 * when nothing names a rank (the script runs alone as rank 0 of 1). Throws a one-line Error naming
 * the variable and what to check when a source is only partly there, and names WEFT_JOB_SECRET
 * when no secret is given (with no launcher to make one, every task must be given the same).
 *
 * @example A task of `srun -n 4` on two nodes
 * ```ts
 * const place = readSchedulerEnv({
 *   SLURM_STEP_ID: "0", SLURM_PROCID: "3", SLURM_NTASKS: "4", SLURM_LOCALID: "1", SLURM_NODEID: "1",
 *   SLURM_TASKS_PER_NODE: "2(x2)", SLURM_JOB_NODELIST: "gpu[07-08]", SLURM_JOB_ID: "4242",
 *   WEFT_JOB_SECRET: "an example secret of 32 characters",
 * });
 * assert.equal(place?.source, "slurm");
 * assert.deepEqual([place?.rank, place?.worldSize, place?.localRank, place?.localWorldSize], [3, 4, 1, 2]);
 * assert.equal(`${place?.masterAddr}:${place?.masterPort}`, "gpu07:24242");
 * assert.equal(place?.storeServedBy, "rank 0");
 * ```
 */
export function readSchedulerEnv(env: NodeJS.ProcessEnv, overrides: WorkerOverrides = {}): SchedulerPlace | undefined {
  const source = sourceOf(env, overrides);
  if (source === undefined) return undefined;
  const r = new Reader(env, source);
  const fromSource =
    source === "weft" ? weftRanks(r) : source === "slurm" ? slurmRanks(r) : source === "torchrun" ? torchRanks(r) : optionRanks(overrides);
  const ranks: Ranks = {
    rank: overrides.rank ?? fromSource.rank,
    worldSize: overrides.worldSize ?? fromSource.worldSize,
    localRank: overrides.localRank ?? fromSource.localRank,
    localWorldSize: overrides.localWorldSize ?? fromSource.localWorldSize,
    nodeRank: overrides.nodeRank ?? fromSource.nodeRank,
  };
  const addr = overrides.masterAddr ?? (set(env, ENV.masterAddr) ? env[ENV.masterAddr]! : undefined);
  const port = overrides.masterPort ?? (set(env, ENV.masterPort) ? r.integer([ENV.masterPort], ENV.masterPort) : undefined);
  const fallback = sourceAddress(r, { addr: addr === undefined, port: port === undefined });
  const secret = overrides.secret ?? (set(env, ENV.secret) ? env[ENV.secret]! : undefined);
  if (secret === undefined) throw new Error(`${ENV.secret} is not set: ${secretHint(source)}`);
  const slurmJob = source === "slurm" && set(env, "SLURM_JOB_ID") ? `slurm-${env.SLURM_JOB_ID}` : undefined;
  return {
    source,
    ...ranks,
    masterAddr: addr ?? fallback.addr!,
    masterPort: port ?? fallback.port!,
    secret,
    storeServedBy: source === "weft" ? "launcher" : "rank 0",
    jobId: env[ENV.jobId] ?? slurmJob ?? "job",
  };
}

function secretHint(source: EnvSource): string {
  switch (source) {
    case "weft":
      return hintFor(source, ENV.secret);
    case "slurm":
      return `with no weft launch there is no launcher to make the job secret: export the same one to every task before srun (export ${ENV.secret}=$(openssl rand -hex 32))`;
    default:
      return `every worker needs the same job secret: export ${ENV.secret}=$(openssl rand -hex 32) where the workers are started, or pass secret to initProcessGroup()`;
  }
}
