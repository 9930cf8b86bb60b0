// Every rank's place (machine, local rank) and its vote on the hierarchy, exchanged through the
// rendezvous store before any group is built: the choice between a hierarchical and a flat group
// must be the same on every rank, and each rank knows only its own place. Through the store, not a
// collective, so that a job that ends up flat gets exactly the group it had before (no operation
// of its own spent on the exchange).
import { connectRendezvousStore } from "../rendezvous/connect-store.js";
import { secretKey } from "../wire/secret.js";
import type { RankPlace } from "./hierarchy-plan.js";

/** What a rank publishes. */
export interface PlaceVote extends RankPlace {
  /** Why this rank wants the flat group (its opt-out), or undefined. */
  flatBecause?: string;
}

export interface PlaceExchange {
  /** The rendezvous: "host:port" of the embedded store, or an etcd:// URL with `jobId`. */
  rendezvous: string;
  jobId?: string | undefined;
  secret: string;
  /** Unique to this group in the job, the same on every rank: the keys live under `<key>/place/`. */
  key: string;
  rank: number;
  worldSize: number;
  /** How long to wait for the last rank's place, ms. */
  timeoutMs: number;
}

/**
 * Publishes this rank's place and returns every rank's (index: job rank), waiting up to
 * `timeoutMs` for ranks that start late.
 */
export async function exchangePlaces(x: PlaceExchange, mine: PlaceVote): Promise<PlaceVote[]> {
  const store = await connectRendezvousStore(x.rendezvous, {
    secret: secretKey(x.secret),
    ...(x.jobId === undefined ? {} : { jobId: x.jobId }),
    connectTimeoutMs: x.timeoutMs,
    timeoutMs: x.timeoutMs,
  });
  try {
    await store.set(`${x.key}/place/${x.rank}`, JSON.stringify(mine));
    const raw = await Promise.all(Array.from({ length: x.worldSize }, (_, r) => store.getString(`${x.key}/place/${r}`, x.timeoutMs)));
    return raw.map((text) => JSON.parse(text) as PlaceVote);
  } finally {
    store.close();
  }
}
