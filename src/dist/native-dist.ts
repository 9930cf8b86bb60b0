// The distributed runtime's native functions (CPU binding, shared-memory collectives), from the
// same addon as the kernels (native/bind/affinity.cc, native/bind/shm.cc). Null when the addon did
// not load: then workers are not bound and every group talks TCP only.
import { nativeAddon } from "../backend/native/index.js";

/** An open shared-memory segment (opaque). */
export type ShmHandle = { readonly __shmHandle: unique symbol };

/** One rank's call, as another rank saw it (returned when ranks' calls differ). */
export interface ShmDescriptor {
  op: number;
  reduce: number;
  root: number;
  count: number;
}

/** Why a shared-memory operation failed; null is returned on success. */
export interface ShmFailure {
  status: "timeout" | "peerLost" | "mismatch" | "failed";
  /** Timeout: ranks that never arrived; peerLost: ranks whose process is gone. */
  ranks: number[];
  /** Mismatch: every rank's descriptor, by rank. */
  descriptors: ShmDescriptor[];
}

export interface DistAddon {
  cpuAffinity(): number[];
  exitWithParent(expectedParentPid: number): boolean;
  bindProcessToCpus(cpus: number[]): number;
  shmOpen(name: string, worldSize: number, rank: number, chunkFloats: number, create: boolean): ShmHandle;
  shmRun(
    handle: ShmHandle, op: number, reduce: number, root: number, count: number,
    a: Float32Array | null, b: Float32Array | null, timeoutMs: number, spinUs: number,
  ): ShmFailure | null;
  shmClose(handle: ShmHandle): void;
  shmUnlink(name: string): void;
}

function load(): DistAddon | null {
  const a = nativeAddon as unknown as Partial<DistAddon> | null;
  return a && typeof a.shmRun === "function" && typeof a.bindProcessToCpus === "function" ? (a as DistAddon) : null;
}

export const distAddon: DistAddon | null = load();
