// The distributed runtime's native functions (CPU binding, shared-memory collectives, wire
// conversions, top-k selection), from the same addon as the kernels (native/bind/affinity.cc,
// shm.cc, wire.cc, top-k.cc).
// Null when the addon did not load: then workers are not bound, every group talks TCP only, and
// wire conversions run in JavaScript.
import { nativeAddon } from "../../backend/native/index.js";

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

/** The wire conversions, as native/bind/wire.cc exports them (kind: 1 bf16, 2 f16). */
export interface WireAddon {
  packF32(src: Float32Array, dst: Uint16Array, n: number, kind: number): void;
  unpackF32(src: Uint16Array, dst: Float32Array, n: number, kind: number): void;
  unpackAddF32(src: Uint16Array, dst: Float32Array, n: number, kind: number): void;
}

export interface DistAddon extends WireAddon {
  cpuAffinity(): number[];
  exitWithParent(expectedParentPid: number): boolean;
  bindProcessToCpus(cpus: number[]): number;
  /**
   * `waitedMs`: worldSize + 2 numbers on a SharedArrayBuffer (memory that never moves): every
   * successful shmRun fills the first worldSize with the waits (Note [shm arrival stamps] in
   * native/dist/shm-group.h), every shmRun the last two with its span (Note [native call spans]
   * in group/flight-recorder.ts).
   */
  shmOpen(name: string, worldSize: number, rank: number, chunkFloats: number, create: boolean, waitedMs: Float64Array): ShmHandle;
  shmRun(
    handle: ShmHandle, op: number, reduce: number, root: number, count: number,
    a: Float32Array | null, b: Float32Array | null, timeoutMs: number, spinUs: number,
  ): ShmFailure | null;
  shmClose(handle: ShmHandle): void;
  shmUnlink(name: string): void;
}

/** Why a fast-link all-reduce failed (native/dist/tcp-fast.h); null is returned on success. */
export interface FastFailure {
  status: "timeout" | "peerLost" | "mismatch" | "failed" | "protocol";
  /** Timeout: the rank not heard from; the others: the peer. */
  ranks: number[];
  /** Mismatch: the peer's call, from its header (Note [fast link frames]). */
  theirs: { seq: number; op: number; reduce: number; root: number; count: number; announce: boolean };
}

/** The calling thread's TCP links, as native/bind/tcp-fast.cc exports them (negative results: -errno). */
export interface FastAddon {
  fastListen(host: string): [fd: number, port: number];
  fastAccept(fd: number): number;
  fastConnect(host: string, port: number): number;
  fastConnectResult(fd: number): number;
  fastWrite(fd: number, bytes: Uint8Array): number;
  fastRead(fd: number, bytes: Uint8Array): number;
  fastShutdown(fd: number): void;
  fastClose(fd: number): void;
  /** `waits`: null, or worldSize + 2 numbers: the waits (on success), then the call's span (Note [native call spans] in group/flight-recorder.ts). */
  fastAllReduce(
    fds: Int32Array, rank: number, worldSize: number, failedFlag: Int32Array, seq: number, op: number, reduce: number,
    buf: Float32Array | null, count: number, scratch: Float32Array | null, timeoutMs: number, spinUs: number, waits: Float64Array | null,
  ): FastFailure | null;
  /** Note [announcements] in native/dist/tcp-fast.h. */
  fastAnnounce(fds: Int32Array, rank: number, worldSize: number, seq: number, op: number, reduce: number, root: number, count: number, timeoutMs: number): FastFailure | null;
  /** Note [all-reduce in halves] in native/dist/tcp-fast.h: two ranks, on a thread of libuv's pool; buf and scratch untouched until it settles. */
  fastAllReduceHalves(
    fds: Int32Array, rank: number, worldSize: number, failedFlag: Int32Array, seq: number, reduce: number,
    buf: Float32Array, count: number, scratch: Float32Array, timeoutMs: number, spinUs: number, waits: Float64Array | null,
  ): Promise<FastFailure | null>;
}

/** Top-k sparsification's selection, as native/bind/top-k.cc exports it (strategies/top-k-select.ts says what it chooses). */
export interface SelectAddon {
  largestMagnitudes(values: Float32Array, k: number, out: Int32Array, scratch: Float32Array): void;
}

/** Null when the addon did not load (or predates it): the selection then runs in JavaScript. */
export const selectAddon: SelectAddon | null = ((): SelectAddon | null => {
  const a = nativeAddon as unknown as Partial<SelectAddon> | null;
  return a && typeof a.largestMagnitudes === "function" ? (a as SelectAddon) : null;
})();

function loadFast(): FastAddon | null {
  const a = nativeAddon as unknown as Partial<FastAddon> | null;
  return a && typeof a.fastAllReduce === "function" && typeof a.fastAnnounce === "function" && typeof a.fastAllReduceHalves === "function" && typeof a.fastListen === "function" ? (a as FastAddon) : null;
}

/** Null when the addon did not load (or predates the fast links): TCP collectives then all run on the comm thread. */
export const fastAddon: FastAddon | null = loadFast();

function load(): DistAddon | null {
  const a = nativeAddon as unknown as Partial<DistAddon> | null;
  const present = ["shmRun", "bindProcessToCpus", "exitWithParent", "packF32", "unpackF32", "unpackAddF32"] as const;
  return a && present.every((f) => typeof a[f] === "function") ? (a as DistAddon) : null;
}

export const distAddon: DistAddon | null = load();
