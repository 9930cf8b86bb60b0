// Setting up a group's shared-memory segment, over the group's TCP links (which are up first):
//   1. rank 0 creates the segment (mode 0600, a name derived from the job secret, the store's
//      address and the group name: another job cannot guess it, and two jobs on one machine that
//      share a secret still get different segments, since each has its own store port);
//   2. barrier; the other ranks attach;
//   3. every rank says whether it succeeded (an all-reduce of 0/1); rank 0 unlinks the name, so
//      the memory goes away with the last process even if the job is killed.
// If any rank failed (say, ranks that share no /dev/shm), every rank keeps using TCP alone.
import { createHash } from "node:crypto";
import type { OpExecutor } from "./op-executor.js";
import { distAddon, type ShmHandle } from "../base/native-dist.js";
import { sharedFloat32Array } from "../base/shared-buffer.js";
import { SharedMemoryExecutor, type SharedMemoryOptions } from "./shm-executor.js";

/**
 * Floats per slot of a chunk (Note [shm chunk protocol]). 1 MiB: a DDP bucket of that size moves
 * in one chunk, and the segment of two ranks stays at 4 MiB.
 */
export const DEFAULT_SHM_CHUNK_FLOATS = 1 << 18;

export interface AttachOptions extends Omit<SharedMemoryOptions, "waitedMs"> {
  rank: number;
  worldSize: number;
  secret: string;
  /** The job's store, "host:port": unique to the job while it runs. */
  store: string;
  groupName: string;
  chunkFloats?: number;
}

export function segmentName(secret: string, store: string, groupName: string): string {
  return `/weft-${createHash("sha256").update(`shm\0${secret}\0${store}\0${groupName}`).digest("hex").slice(0, 32)}`;
}

/**
 * Returns an executor that runs collectives in shared memory and send/recv on `tcp`, or null
 * (on every rank alike) when some rank could not attach; `why` then says what failed here.
 */
export async function attachSharedMemory(tcp: OpExecutor, o: AttachOptions, why: (message: string) => void = () => {}): Promise<SharedMemoryExecutor | null> {
  const addon = distAddon;
  const name = segmentName(o.secret, o.store, o.groupName);
  const chunk = o.chunkFloats ?? DEFAULT_SHM_CHUNK_FLOATS;
  let handle: ShmHandle | null = null;
  const waitedMs = new Float64Array(new SharedArrayBuffer(8 * (o.worldSize + 2)));
  const open = (create: boolean): void => {
    if (!addon) {
      why("the native addon is not loaded");
      return;
    }
    try {
      handle = addon.shmOpen(name, o.worldSize, o.rank, chunk, create, waitedMs);
    } catch (err) {
      why((err as Error).message);
    }
  };
  if (o.rank === 0) {
    addon?.shmUnlink(name); // a leftover of a killed job with the same secret and group name
    open(true);
  }
  await tcp.submit({ op: "barrier" });
  if (o.rank !== 0) open(false);
  const attached = sharedFloat32Array(1);
  attached[0] = handle === null ? 0 : 1;
  await tcp.submit({ op: "allReduce", buffer: attached, reduceOp: "sum" });
  if (o.rank === 0) addon?.shmUnlink(name);
  if (attached[0] !== o.worldSize) {
    if (handle !== null) addon!.shmClose(handle);
    return null;
  }
  return new SharedMemoryExecutor(addon!, handle!, o.rank, o.worldSize, tcp, { timeoutMs: o.timeoutMs, spinUs: o.spinUs, naming: o.naming, waitedMs });
}
