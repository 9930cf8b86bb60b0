// What the ranks of a job meet through: a key-value store with blocking reads and atomic counters.
// The embedded store (store-client.ts, served by node 0's launcher) is one; a store backed by an
// etcd cluster is another. Group set-up (address-book.ts) and elastic membership
// (elastic/membership.ts) are written against this interface alone, so they do not change with
// the store behind it. Every call has a deadline: a store that is gone is an error, never a hang.

export interface RendezvousStore {
  /** Where the store is, for messages ("127.0.0.1:29500", "etcd 10.0.0.1:2379,10.0.0.2:2379"). */
  readonly endpoint: string;
  /** Sets `key` to `value` (text is stored as UTF-8), waking everybody waiting for it. */
  set(key: string, value: string | Uint8Array): Promise<void>;
  /** The value of `key`, waiting until it exists; StoreTimeoutError after `timeoutMs` (default: the store's). */
  get(key: string, timeoutMs?: number): Promise<Buffer>;
  /** `get` decoded as UTF-8. */
  getString(key: string, timeoutMs?: number): Promise<string>;
  /** Atomically adds `delta` (default 1) to the counter at `key` (missing = 0) and returns the new value; `add(key, 0)` reads it. */
  add(key: string, delta?: number): Promise<number>;
  /** Waits until every key exists; StoreTimeoutError naming the missing ones after `timeoutMs`. */
  wait(keys: string[], timeoutMs?: number): Promise<void>;
  /** Removes `key`; true if it existed. */
  delete(key: string): Promise<boolean>;
  /** The local address this process reaches the store from: the interface its peers can reach it on. */
  readonly localAddress: string;
  close(): void;
}
