// Where the ranks of a group find each other's listen addresses. Today the job's embedded store
// holds them under `<group>/addr/<rank>`; a rendezvous backed by etcd will be another AddressBook,
// and the transports that dial peers do not change.
import type { RendezvousStore } from "./rendezvous-store.js";

export interface AddressBook {
  /** Makes `address` ("host:port") known as rank `rank`'s. */
  publish(rank: number, address: string): Promise<void>;
  /** Rank `rank`'s address, waiting up to `timeoutMs` for it to be published (StoreTimeoutError after). */
  lookup(rank: number, timeoutMs: number): Promise<string>;
}

/** The addresses of group `group`, in the job's store. */
export function storeAddressBook(store: RendezvousStore, group: string): AddressBook {
  const key = (rank: number): string => `${group}/addr/${rank}`;
  return {
    publish: (rank, address) => store.set(key(rank), address),
    lookup: (rank, timeoutMs) => store.getString(key(rank), timeoutMs),
  };
}
