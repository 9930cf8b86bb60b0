// The rendezvous of a job no launcher started (srun, a PyTorch-style launcher, explicit options):
// rank 0 serves the embedded store itself, as PyTorch's env:// rank 0 hosts its TCPStore, and
// every rank first checks that it can reach the store, so a wrong host fails in one line before
// any comm thread starts rather than as a timeout of the group's setup a minute later.
import { StoreError } from "../base/errors.js";
import { secretKey } from "../wire/secret.js";
import { StoreClient } from "./store-client.js";
import { StoreServer } from "./store-server.js";
import { ENV } from "./worker-env.js";
import type { SchedulerPlace } from "./scheduler-env.js";

/** How long ranks other than 0 wait for rank 0's store by default: tasks of one step start seconds apart. */
export const DEFAULT_EMBEDDED_RDZV_TIMEOUT_MS = 30_000;

/** How long rank 0 tries its own store: it is listening already, so any wait means the host is not this machine. */
const SELF_CHECK_MS = 5000;

/** What prepareEmbeddedRendezvous needs of a worker's place. */
export type EmbeddedRendezvousPlace = Pick<SchedulerPlace, "rank" | "masterAddr" | "masterPort" | "secret"> & { source: string };

/** What to check when the store cannot be reached, for the source that named its host. */
function whereFrom(place: EmbeddedRendezvousPlace): string {
  return place.source === "slurm"
    ? `rank 0 runs on the first node of SLURM_STEP_NODELIST unless ${ENV.masterAddr} says otherwise`
    : `it is ${ENV.masterAddr} (or MASTER_ADDR), which must be rank 0's machine`;
}

/**
 * Rank 0: starts the store on every interface at place.masterPort (authenticated with the job
 * secret, so listening beyond loopback admits only the job's ranks) and checks it answers at
 * masterAddr:masterPort. Other ranks: wait up to `timeoutMs` for it. Returns the store rank 0
 * serves (to close after the group), undefined elsewhere; throws one line naming host:port and
 * what to check.
 */
export async function prepareEmbeddedRendezvous(place: EmbeddedRendezvousPlace, timeoutMs = DEFAULT_EMBEDDED_RDZV_TIMEOUT_MS): Promise<StoreServer | undefined> {
  const key = secretKey(place.secret);
  const at = `${place.masterAddr.includes(":") ? `[${place.masterAddr}]` : place.masterAddr}:${place.masterPort}`;
  let store: StoreServer | undefined;
  if (place.rank === 0) {
    const bindHost = place.masterAddr.includes(":") ? "::" : "0.0.0.0";
    try {
      store = await StoreServer.listen({ host: bindHost, port: place.masterPort, secret: key });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = e.code === "EADDRINUSE" ? "the port is in use on this node" : e.message;
      throw new StoreError(`rank 0 cannot serve the rendezvous store on port ${place.masterPort}: ${why}; set ${ENV.masterPort} to a free port (the same for every task)`);
    }
  }
  try {
    const client = await StoreClient.connect({ host: place.masterAddr, port: place.masterPort, secret: key, connectTimeoutMs: place.rank === 0 ? SELF_CHECK_MS : timeoutMs });
    client.close();
  } catch (err) {
    await store?.close();
    const reason = (err as Error).message.replace(/^could not connect to the store at [^:]+:\d+: /, "");
    throw new StoreError(
      place.rank === 0
        ? `rank 0 serves the rendezvous store on port ${place.masterPort} but cannot reach it at ${at} (${reason}): ${whereFrom(place)}`
        : `rank ${place.rank} cannot reach the rendezvous store at ${at} within ${timeoutMs / 1000} s (${reason}): check that rank 0 is running there and the port is open between the nodes; ${whereFrom(place)}`,
    );
  }
  return store;
}
