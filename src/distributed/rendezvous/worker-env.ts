// The environment `weft launch` gives each worker (the names a worker reads in group/init.ts).
export const ENV = {
  rank: "WEFT_RANK",
  worldSize: "WEFT_WORLD_SIZE",
  localRank: "WEFT_LOCAL_RANK",
  localWorldSize: "WEFT_LOCAL_WORLD_SIZE",
  nodeRank: "WEFT_NODE_RANK",
  masterAddr: "WEFT_MASTER_ADDR",
  masterPort: "WEFT_MASTER_PORT",
  /** The rendezvous when it is not node 0's embedded store: "etcd://HOST:PORT[,HOST:PORT...]" (docs/rendezvous.md). */
  rendezvous: "WEFT_RDZV",
  secret: "WEFT_JOB_SECRET",
  runDir: "WEFT_RUN_DIR",
  jobId: "WEFT_JOB_ID",
  /** The CPUs this worker is bound to ("0" or "2,3"); unset when unbound (Note [CPU binding]). */
  cpus: "WEFT_CPUS",
  /** The launcher's pid: a worker asks to be stopped when that process dies. */
  launcherPid: "WEFT_LAUNCHER_PID",
  /** Elastic jobs: this worker's member id, stable for its life ("w2", a replacement "w2r1"). */
  memberId: "WEFT_MEMBER_ID",
  /** Elastic jobs: "1" for a worker started after the job began, which joins the running job. */
  join: "WEFT_JOIN",
  /** Elastic jobs: the fewest and most workers the job may have (--min, --max). */
  minWorkers: "WEFT_MIN_WORKERS",
  maxWorkers: "WEFT_MAX_WORKERS",
  /** Seconds ranks other than 0 wait for rank 0's store when no launcher serves it (srun; default 30). */
  rdzvTimeout: "WEFT_RDZV_TIMEOUT",
} as const;
