// A worker's way into an elastic job started by `weft launch --min A --max B` (or `weft train
// <recipe> --min A --max B`): read the launcher's environment, reach the rendezvous store, and
// join generation 0 or, for a worker started later, the running job.
//
//   import { fit, initElasticGroup, DdpStrategy, elasticShards } from "weft";
//   const group = await initElasticGroup();
//   if (group) await fit({ ..., elastic: { group, strategyFor: (pg) => new DdpStrategy(pg), data: elasticShards(train, {...}) } });
import { initWorker } from "../group/init.js";
import { createTcpProcessGroup, storeAddress } from "../group/tcp-group.js";
import { ENV } from "../rendezvous/worker-env.js";
import { connectRendezvousStore } from "../rendezvous/connect-store.js";
import { secretKey } from "../wire/secret.js";
import { ElasticGroup, type MembershipEvent } from "./elastic-group.js";

export interface InitElasticOptions {
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Each generation's links must be up within this time (default 10 s: a member that does not come is left out). */
  connectTimeoutMs?: number;
  /** Deadline of each collective, ms (default the group's, 30 s). */
  timeoutMs?: number;
  onEvent?(event: MembershipEvent): void;
}

/** Deadline of each membership call to the store (a joiner's long waits poll in short calls). */
const STORE_TIMEOUT_MS = 8000;

/** The first generation's member ids: "w<rank>" for each rank the launcher started. */
export function firstMembers(worldSize: number): string[] {
  return Array.from({ length: worldSize }, (_, r) => `w${r}`);
}

/**
 * initWorker(), then this worker's place in the elastic job; undefined when it was started to
 * join and the job finished first. The store connection stays open for the job's life (the
 * membership lives there); the group's destroy() does not close it.
 */
export async function initElasticGroup(options: InitElasticOptions = {}): Promise<ElasticGroup | undefined> {
  const env = options.env ?? process.env;
  const w = initWorker(env);
  const min = Number(env[ENV.minWorkers] ?? 1);
  const max = Number(env[ENV.maxWorkers] ?? w.worldSize);
  if (!(Number.isInteger(min) && Number.isInteger(max) && min >= 1 && max >= min)) {
    throw new Error(`${ENV.minWorkers}=${env[ENV.minWorkers]} and ${ENV.maxWorkers}=${env[ENV.maxWorkers]} must be integers with 1 <= min <= max`);
  }
  const joining = env[ENV.join] === "1";
  const memberId = env[ENV.memberId] ?? `w${w.rank}`;
  // Membership calls are short; a store that does not answer within seconds is cut off or gone.
  const store = await connectRendezvousStore(w.rendezvous ?? storeAddress(w.masterAddr, w.masterPort), {
    secret: secretKey(w.secret), jobId: w.jobId, connectTimeoutMs: 30_000, timeoutMs: STORE_TIMEOUT_MS,
  });
  return ElasticGroup.start({
    store, memberId, min, max,
    ...(joining ? {} : { initialMembers: firstMembers(w.worldSize) }),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    makeGroup: (rank, worldSize, name) =>
      createTcpProcessGroup({
        rank, worldSize, groupName: name, secret: w.secret, storeHost: w.masterAddr, storePort: w.masterPort,
        ...(w.rendezvous === undefined ? {} : { rendezvous: w.rendezvous, jobId: w.jobId }),
        // Generations run over TCP, where heartbeats tell a frozen member from a slow one.
        sharedMemory: false,
        connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      }),
  });
}
