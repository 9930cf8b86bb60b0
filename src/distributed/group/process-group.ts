// The process group as user code sees it: rank, worldSize, and collectives on Float32Array
// buffers, each in an awaited form (`await pg.allReduce(buf)`) and a non-blocking form that
// returns a Work handle (`const w = pg.allReduceAsync(buf); ...; await w.wait()`), which is what
// DDP uses to start a bucket's all-reduce during backward.
//
// Contract (as in NCCL and gloo): every rank issues the same collectives in the same order;
// operations run one at a time in submission order; a buffer passed to an operation must not be
// touched until the operation completes. Every operation has a deadline; failures are typed
// (CollectiveTimeoutError, CollectiveMismatchError, PeerLostError) and leave the group failed
// (Note [a failed group stays failed] in collectives/engine.ts).
import type { OpRequest, ReduceOp } from "../collectives/ops.js";
import type { WireDtype } from "../compression/wire-dtype.js";

/** Where operations run: the comm thread (TCP groups) or inline (in-process groups). */
export interface OpExecutor {
  submit(request: OpRequest): Promise<void>;
  close(): Promise<void>;
}

/** A pending operation. */
export class Work {
  private completed = false;
  private readonly promise: Promise<void>;

  constructor(promise: Promise<void>) {
    this.promise = promise.then(() => {
      this.completed = true;
    });
    // A failure is reported through wait(); never as an unhandled rejection if nobody waits.
    this.promise.catch(() => {
      this.completed = true;
    });
  }

  /** Resolves when the operation has completed on this rank; rejects with its error. */
  wait(): Promise<void> {
    return this.promise;
  }

  /** Whether the operation has finished (successfully or not). */
  isCompleted(): boolean {
    return this.completed;
  }
}

export interface CallOptions {
  /** Deadline of this call in ms (default: the group's, 30 s unless configured). */
  timeoutMs?: number;
}

export interface ReduceOptions extends CallOptions {
  /** "sum" (default) or "avg" (sum / worldSize). */
  op?: ReduceOp;
  /**
   * Element type on the wire over TCP: "f32" (the group default unless configured otherwise),
   * "bf16" or "f16", which halve the bytes sent and round every partial sum to that type, so the
   * result is that type's precision (Note [compressed ring] in collectives/ring.ts). Every rank
   * must pass the same value. Ignored through shared memory, where nothing goes over a network,
   * and by all-reduces small enough for recursive doubling (smallMessageBytes).
   */
  wire?: WireDtype;
}

export interface P2POptions extends CallOptions {
  /** Must match between the send and its receive (default 0). */
  tag?: number;
}

function timeout(o: CallOptions | undefined): { timeoutMs?: number } {
  return o?.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs };
}

function wire(o: ReduceOptions | undefined): { wire?: WireDtype } {
  return o?.wire === undefined ? {} : { wire: o.wire };
}

export class ProcessGroup {
  private destroyed = false;

  constructor(
    /** This process's rank, 0..worldSize-1. */
    readonly rank: number,
    /** Number of ranks in the group. */
    readonly worldSize: number,
    private readonly executor: OpExecutor,
    /** How collectives travel: "tcp", "shared-memory" (same machine), or "in-process" (tests). */
    readonly transport: "tcp" | "shared-memory" | "in-process" = "tcp",
  ) {}

  private start(request: OpRequest): Work {
    return new Work(this.destroyed ? Promise.reject(new Error("the process group was destroyed")) : this.executor.submit(request));
  }

  /** Starts an in-place all-reduce of `buffer` (sum by default) and returns its handle. */
  allReduceAsync(buffer: Float32Array, options?: ReduceOptions): Work {
    return this.start({ op: "allReduce", buffer, reduceOp: options?.op ?? "sum", ...wire(options), ...timeout(options) });
  }

  /** In-place all-reduce: every rank ends with the element-wise sum (or average) of all buffers. */
  allReduce(buffer: Float32Array, options?: ReduceOptions): Promise<void> {
    return this.allReduceAsync(buffer, options).wait();
  }

  /** Starts a reduce-scatter: `input` (worldSize × m) is reduced and rank r gets chunk r in `output` (m). */
  reduceScatterAsync(input: Float32Array, output: Float32Array, options?: ReduceOptions): Work {
    return this.start({ op: "reduceScatter", input, output, reduceOp: options?.op ?? "sum", ...wire(options), ...timeout(options) });
  }

  reduceScatter(input: Float32Array, output: Float32Array, options?: ReduceOptions): Promise<void> {
    return this.reduceScatterAsync(input, output, options).wait();
  }

  /** Starts an all-gather: rank r's `input` (m) lands at output[r·m, (r+1)·m) on every rank. */
  allGatherAsync(input: Float32Array, output: Float32Array, options?: CallOptions): Work {
    return this.start({ op: "allGather", input, output, ...timeout(options) });
  }

  allGather(input: Float32Array, output: Float32Array, options?: CallOptions): Promise<void> {
    return this.allGatherAsync(input, output, options).wait();
  }

  /** Starts a broadcast of `root`'s buffer into every rank's `buffer`. */
  broadcastAsync(buffer: Float32Array, root: number, options?: CallOptions): Work {
    return this.start({ op: "broadcast", buffer, root, ...timeout(options) });
  }

  broadcast(buffer: Float32Array, root: number, options?: CallOptions): Promise<void> {
    return this.broadcastAsync(buffer, root, options).wait();
  }

  /** Starts a barrier: completes once every rank has reached it. */
  barrierAsync(options?: CallOptions): Work {
    return this.start({ op: "barrier", ...timeout(options) });
  }

  barrier(options?: CallOptions): Promise<void> {
    return this.barrierAsync(options).wait();
  }

  /** Starts sending `buffer` to rank `dst` (completes once handed to the network). */
  sendAsync(buffer: Float32Array, dst: number, options?: P2POptions): Work {
    return this.start({ op: "send", buffer, peer: dst, tag: options?.tag ?? 0, ...timeout(options) });
  }

  send(buffer: Float32Array, dst: number, options?: P2POptions): Promise<void> {
    return this.sendAsync(buffer, dst, options).wait();
  }

  /** Starts receiving the next message from rank `src` into `buffer` (its size and tag must match). */
  recvAsync(buffer: Float32Array, src: number, options?: P2POptions): Work {
    return this.start({ op: "recv", buffer, peer: src, tag: options?.tag ?? 0, ...timeout(options) });
  }

  recv(buffer: Float32Array, src: number, options?: P2POptions): Promise<void> {
    return this.recvAsync(buffer, src, options).wait();
  }

  /** Closes the links and the comm thread; operations still running fail. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await this.executor.close();
  }
}
