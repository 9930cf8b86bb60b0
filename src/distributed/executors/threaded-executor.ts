// The main-thread side of the comm thread: starts it, forwards operations, resolves their promises.
//
// Buffers on a SharedArrayBuffer go to the comm thread as they are (no copy). Others are copied
// into shared memory before the operation and their outputs copied back after it, which costs two
// copies of the buffer: allocate long-lived buffers with sharedFloat32Array() to avoid them.
//
// The thread is unref'd while no operation is pending, so a script that forgets destroy() still
// exits.
//
// The comm thread counts the bytes of its links' frames into a SharedArrayBuffer made here, so
// traffic() is a read of shared memory, not a message (Note [traffic counters] in
// base/traffic-counter.ts).
//
// abort() is a message too, posted ahead of nothing: operations submitted after it are posted
// after it, so the comm thread refuses them. The comm thread says when the group has failed
// (groupFailed), for a shared-memory executor on top, whose collectives never pass through it.
import { Worker } from "node:worker_threads";
import { CollectiveError, deserializeError, serializeError, type SerializedError } from "../base/errors.js";
import type { OpRequest, OpResult, WaitsOut } from "../collectives/ops.js";
import type { OpExecutor } from "./op-executor.js";
import { isShared, sharedFloat32Array } from "../base/shared-buffer.js";
import { FAILURE_BYTES, FAILURE_JSON_AT, WAIT_SLOTS, type CommWorkerConfig, type FromCommThread, type ToCommThread } from "./comm-messages.js";
import { TrafficCounter, type Traffic } from "../base/traffic-counter.js";

/** How long a rank whose fast collective failed waits for the comm thread to tell the peers (ms). */
const TOLD_WAIT_MS = 200;

interface Pending {
  resolve(result: OpResult): void;
  reject(err: Error): void;
  /** Copies outputs back into non-shared caller buffers. */
  after: (() => void) | undefined;
  /** The caller's waits array (Note [per-peer waits] in collectives/ops.ts), filled from the shared slot. */
  waitedMs: Float64Array | undefined;
}

/** Returns a request whose buffers are all shared, and the copy-backs its outputs need. */
function shareBuffers(req: OpRequest): { request: OpRequest; after: (() => void) | undefined } {
  const copies: (() => void)[] = [];
  const stage = (a: Float32Array, copyIn: boolean, copyOut: boolean): Float32Array => {
    if (isShared(a)) return a;
    const s = sharedFloat32Array(a.length);
    if (copyIn) s.set(a);
    if (copyOut) copies.push(() => a.set(s));
    return s;
  };
  let request: OpRequest;
  switch (req.op) {
    case "allReduce":
    case "broadcast":
      request = { ...req, buffer: stage(req.buffer, true, true) };
      break;
    case "send":
      request = { ...req, buffer: stage(req.buffer, true, false) };
      break;
    case "recv":
    case "recvAny":
      request = { ...req, buffer: stage(req.buffer, false, true) };
      break;
    case "reduceScatter":
    case "allGather":
      request = { ...req, input: stage(req.input, true, false), output: stage(req.output, false, true) };
      break;
    case "barrier":
      request = req;
      break;
  }
  return { request, after: copies.length > 0 ? () => copies.forEach((c) => c()) : undefined };
}

export class ThreadedExecutor implements OpExecutor {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closedPromise: Promise<void> | undefined;
  private failedWith: CollectiveError | undefined;

  private constructor(
    private readonly worker: Worker,
    private readonly counter: TrafficCounter,
    /** Note [waits through shared memory]. */
    private readonly waits: Float64Array,
    /** CommWorkerConfig.failed (Note [the failure in shared memory]). */
    private readonly failedShared: SharedArrayBuffer,
  ) {
    this.failedFlag = new Int32Array(failedShared, 0, 3);
  }

  /** Its first Int32: non-zero once the comm thread knows the group failed (Note [the failure in shared memory]). */
  readonly failedFlag: Int32Array;

  /** Starts the comm thread and waits until its links to every peer are up. */
  static start(config: Omit<CommWorkerConfig, "traffic" | "waits" | "failed">): Promise<{ executor: ThreadedExecutor; address: string }> {
    const counter = new TrafficCounter();
    const waits = new SharedArrayBuffer(8 * WAIT_SLOTS * config.worldSize);
    const failed = new SharedArrayBuffer(FAILURE_BYTES);
    const worker = new Worker(new URL("./comm-worker.js", import.meta.url), { workerData: { ...config, traffic: counter.buffer, waits, failed } satisfies CommWorkerConfig });
    const executor = new ThreadedExecutor(worker, counter, new Float64Array(waits), failed);
    return new Promise((resolve, reject) => {
      const onExit = (code: number): void => reject(new Error(`the comm thread exited (code ${code}) before it was ready`));
      worker.once("error", reject);
      worker.once("exit", onExit);
      worker.on("message", (m: FromCommThread) => {
        if (m.kind === "ready") {
          worker.off("error", reject);
          worker.off("exit", onExit);
          worker.on("error", (err) => executor.failAll(err));
          worker.on("exit", (code) => executor.failAll(new Error(`the comm thread exited (code ${code})`)));
          worker.unref();
          resolve({ executor, address: m.address });
        } else if (m.kind === "initFailed") {
          reject(deserializeError(m.error));
        } else {
          executor.onMessage(m);
        }
      });
    });
  }

  private onMessage(m: FromCommThread): void {
    if (m.kind === "groupFailed") {
      const err = deserializeError(m.error);
      if (err instanceof CollectiveError) this.failedWith ??= err;
      return;
    }
    if (m.kind !== "done" && m.kind !== "failed") return;
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (this.pending.size === 0) this.worker.unref();
    if (m.kind === "done") {
      p.after?.();
      if (p.waitedMs) {
        // Note [waits through shared memory]; a loop, since set() from a shared buffer is slow.
        const w = p.waitedMs.length;
        const base = (m.id % WAIT_SLOTS) * w;
        for (let r = 0; r < w; r++) p.waitedMs[r] = this.waits[base + r]!;
      }
      p.resolve(m.source === undefined ? undefined : { source: m.source });
    } else {
      p.reject(deserializeError(m.error));
    }
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  /** `skipSeqs`: collective numbers another path used since the last collective here (engine.run). */
  submit(req: OpRequest, waitedMs?: WaitsOut, skipSeqs = 0): Promise<OpResult> {
    const { request, after } = shareBuffers(req);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const waits = waitedMs?.length === this.waits.length / WAIT_SLOTS;
      this.pending.set(id, { resolve, reject, after, waitedMs: waits ? waitedMs : undefined });
      if (this.pending.size === 1) this.worker.ref();
      this.worker.postMessage({ kind: "op", id, request, waits, ...(skipSeqs > 0 ? { skipSeqs } : {}) } satisfies ToCommThread);
    });
  }

  abort(reason: string): void {
    if (this.closedPromise) return;
    this.worker.postMessage({ kind: "abort", reason } satisfies ToCommThread);
  }

  failure(): CollectiveError | undefined {
    if (this.failedWith === undefined && Atomics.load(this.failedFlag, 0) !== 0) {
      // Not yet told by message: read it where the comm thread wrote it (Note [the failure in shared memory]).
      const n = Atomics.load(this.failedFlag, 1);
      const json = Buffer.from(new Uint8Array(this.failedShared, FAILURE_JSON_AT, n)).toString("utf8");
      try {
        const err = deserializeError(JSON.parse(json) as SerializedError);
        if (err instanceof CollectiveError) this.failedWith = err;
      } catch {
        // cut short at FAILURE_BYTES: the message, when it comes, has it whole
      }
    }
    return this.failedWith;
  }

  /**
   * Fails the group with `err`, found by a collective on another path (fast-executor.ts), and
   * returns once the comm thread has told every peer, or after TOLD_WAIT_MS (Note [the failure
   * in shared memory]).
   */
  reportFailure(err: CollectiveError): void {
    if (this.closedPromise) return;
    this.worker.postMessage({ kind: "fail", error: serializeError(err) } satisfies ToCommThread);
    const until = performance.now() + TOLD_WAIT_MS;
    for (let left = TOLD_WAIT_MS; Atomics.load(this.failedFlag, 2) === 0 && left > 0; left = until - performance.now()) {
      Atomics.wait(this.failedFlag, 2, 0, left);
    }
  }

  /** Bytes of every frame on this group's TCP links so far, headers included (Hello frames too, not the handshake). */
  traffic(): Traffic {
    return this.counter.read();
  }

  close(): Promise<void> {
    this.closedPromise ??= new Promise<void>((resolve) => {
      this.worker.ref();
      this.worker.once("exit", () => resolve());
      this.worker.postMessage({ kind: "close" } satisfies ToCommThread);
    });
    return this.closedPromise;
  }
}
