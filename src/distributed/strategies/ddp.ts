// Data-parallel training (PyTorch's DistributedDataParallel, Horovod): every rank holds a replica,
// computes gradients on its own data, and the gradients are averaged across ranks before each
// optimizer step, so that all replicas take the same step and stay bitwise identical.
//
// Note [buckets]
// Averaging parameter by parameter would pay a collective's fixed cost hundreds of times a step;
// averaging everything at the end would leave the network idle during backward. So parameters are
// grouped into buckets of about `bucketBytes`, in reverse registration order (roughly the order
// backward produces their gradients). A gradient-ready hook copies each finished gradient into its
// bucket's slot; when a bucket is full its all-reduce starts: over TCP on the communication
// thread while backward goes on with earlier layers, through shared memory inline before it goes
// on. Buckets are started strictly in index order — every rank must issue the same collectives in
// the same order — and after the reduce each parameter's .grad becomes a view of its slot (no copy
// back).
//
// Note [bitwise-identical replicas]
// The all-reduce gives every rank the same bytes (the reduction order is fixed), and every rank
// starts from rank 0's parameters (broadcast at creation), so identical optimizer steps keep the
// replicas identical bit for bit. parameterDigest() lets a test or a paranoid job check it.
import { createHash } from "node:crypto";
import type { Module } from "../../nn/index.js";
import { Tensor } from "../../tensor/tensor.js";
import type { ProcessGroup, Work } from "../group/process-group.js";
import { sharedFloat32Array } from "../base/shared-buffer.js";

/**
 * Default bucket size: PyTorch's first-bucket size. Smaller buckets start communicating earlier in
 * backward, which pays over TCP when a core is free for the communication thread; with one core
 * per worker (2 workers on 2 cores) the overlapped all-reduces compete with backward for the CPU,
 * and one all-reduce at the end was measured faster (BENCHMARKS.md, data-parallel MNIST). Through
 * shared memory an all-reduce runs inline in a fraction of a millisecond, so there is nothing to
 * overlap and one bucket is the fewest waits.
 */
export const DEFAULT_BUCKET_BYTES = 1 << 20;

export interface DdpOptions {
  /** Target bucket size in bytes (default DEFAULT_BUCKET_BYTES); a larger parameter gets a bucket of its own. */
  bucketBytes?: number;
  /** Deadline for each bucket's all-reduce, ms (default: the group's). */
  timeoutMs?: number;
  /**
   * Average the step's loss with the gradients (Note [the loss rides with the gradients]): set it
   * with setLoss() before backward, read the average with averagedLoss() after finishGradients().
   */
  averageLoss?: boolean;
}

// Note [the loss rides with the gradients]
// Every rank must agree on whether a step's loss is finite: a rank that alone saw NaN and
// stopped would leave the others waiting in an all-reduce until its deadline, and a rank that
// alone went on would step on NaN gradients. Averaging the loss costs nothing when it travels as
// one more float at the end of the first bucket, which starts first and is full long before its
// gradients are (the loss is known before backward begins). After the reduce every rank holds
// the same average, so all of them take the same decision.

interface Slot {
  param: Tensor;
  offset: number;
  bucket: Bucket;
}

interface Bucket {
  index: number;
  buffer: Float32Array; // shared memory: the comm thread reduces it in place
  slots: Slot[];
  ready: number;
  /** Slots to fill before the all-reduce starts (one more than slots in the loss's bucket). */
  expected: number;
  work: Work | null;
}

/** Timing of the last synchronised backward, for the metrics stream. */
export interface DdpStepTiming {
  /** From the first bucket's start to the last one's completion. */
  commMs: number;
  /**
   * Time the step was blocked on communication: finishGradients()'s wait, plus the time spent
   * inside starting each bucket's all-reduce, which is the whole all-reduce when the group runs
   * collectives inline (shared memory) rather than on its comm thread.
   */
  waitMs: number;
  buckets: number;
}

export class DistributedDataParallel {
  private readonly buckets: Bucket[] = [];
  private readonly slotOf = new Map<Tensor, Slot>();
  private nextToStart = 0;
  private readonly flag = sharedFloat32Array(1);
  private syncing = true;
  private firstStart = 0;
  private lastDone = 0;
  private blockedInStartMs = 0;
  /** Timing of the most recent finishGradients(). */
  lastTiming: DdpStepTiming = { commMs: 0, waitMs: 0, buckets: 0 };

  private constructor(readonly model: Module, readonly pg: ProcessGroup, private readonly options: DdpOptions) {
    const capacity = Math.max(1, Math.floor((options.bucketBytes ?? DEFAULT_BUCKET_BYTES) / 4));
    const params = model.parameters().filter((p) => p.requiresGrad).reverse();
    let group: Tensor[] = [];
    let size = 0;
    const flush = () => {
      if (group.length === 0) return;
      const lossHere = options.averageLoss === true && this.buckets.length === 0;
      const bucket: Bucket = { index: this.buckets.length, buffer: sharedFloat32Array(size + (lossHere ? 1 : 0)), slots: [], ready: 0, expected: group.length + (lossHere ? 1 : 0), work: null };
      let offset = 0;
      for (const param of group) {
        const slot = { param, offset, bucket };
        bucket.slots.push(slot);
        this.slotOf.set(param, slot);
        offset += param.size;
      }
      this.buckets.push(bucket);
      group = [];
      size = 0;
    };
    for (const p of params) {
      if (size > 0 && size + p.size > capacity) flush();
      group.push(p);
      size += p.size;
    }
    flush();
    for (const p of params) p.onGradReady((t) => this.onGradReady(t));
  }

  /**
   * Wraps `model` for data-parallel training on `pg`: rank 0's parameters and buffers are
   * broadcast to every rank, then gradient hooks are installed.
   */
  static async create(model: Module, pg: ProcessGroup, options: DdpOptions = {}): Promise<DistributedDataParallel> {
    const states = [...model.namedParameters(), ...model.namedBuffers()].map(([, t]) => t);
    const total = states.reduce((s, t) => s + t.size, 0);
    const flat = sharedFloat32Array(total);
    let at = 0;
    for (const t of states) {
      flat.set(t.dense(), at);
      at += t.size;
    }
    await pg.broadcast(flat, 0, options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs });
    at = 0;
    for (const t of states) {
      t.data.set(flat.subarray(at, at + t.size), t.offset);
      at += t.size;
    }
    return new DistributedDataParallel(model, pg, options);
  }

  private lossSet = false;

  private lossBucket(): Bucket | undefined {
    return this.options.averageLoss ? this.buckets[0] : undefined;
  }

  /** Puts this rank's loss into the first bucket (Note [the loss rides with the gradients]); call before backward. */
  setLoss(loss: number): void {
    const b = this.lossBucket();
    if (!b) throw new Error("DDP: setLoss() needs the averageLoss option");
    if (this.lossSet) throw new Error("DDP: setLoss() called twice in one step; call finishGradients() after each backward");
    b.buffer[b.buffer.length - 1] = loss;
    b.ready++;
    this.lossSet = true;
    this.startReadyBuckets();
  }

  /** The loss averaged over the ranks, after finishGradients(). */
  averagedLoss(): number {
    const b = this.lossBucket();
    if (!b) throw new Error("DDP: averagedLoss() needs the averageLoss option");
    return b.buffer[b.buffer.length - 1]!;
  }

  /** Number of buckets and their sizes in floats (for logs and tests). */
  bucketSizes(): number[] {
    return this.buckets.map((b) => b.buffer.length);
  }

  /** Runs `fn` (forward and backward) without communication: gradients accumulate locally (micro-batches). */
  noSync<T>(fn: () => T): T {
    this.syncing = false;
    try {
      return fn();
    } finally {
      this.syncing = true;
    }
  }

  private onGradReady(param: Tensor): void {
    if (!this.syncing) return;
    const slot = this.slotOf.get(param)!;
    const b = slot.bucket;
    if (b.work !== null) {
      throw new Error(`DDP: a parameter's gradient became ready twice in one backward; call finishGradients() after each backward`);
    }
    const grad = param.grad!.dense();
    const target = b.buffer.subarray(slot.offset, slot.offset + param.size);
    if (grad !== target) target.set(grad);
    b.ready++;
    this.startReadyBuckets();
  }

  /** Starts every full bucket from nextToStart on, in order. */
  private startReadyBuckets(): void {
    while (this.nextToStart < this.buckets.length) {
      const b = this.buckets[this.nextToStart]!;
      if (b.ready < b.expected) return;
      const t = performance.now();
      if (this.nextToStart === 0) this.firstStart = t;
      b.work = this.pg.allReduceAsync(b.buffer, { op: "avg", ...(this.options.timeoutMs === undefined ? {} : { timeoutMs: this.options.timeoutMs }) });
      this.blockedInStartMs += performance.now() - t;
      void b.work.wait().then(() => (this.lastDone = performance.now()), () => {});
      this.nextToStart++;
    }
  }

  /**
   * Waits for every bucket's all-reduce and points each parameter's .grad at its averaged slot.
   * Parameters that got no gradient this step (unused in forward) contribute zeros, so every rank
   * still issues the same collectives.
   */
  async finishGradients(): Promise<void> {
    for (const b of this.buckets) {
      if (b.ready < b.expected && b.work === null) {
        for (const slot of b.slots) {
          if (slot.param.grad === null) {
            b.buffer.fill(0, slot.offset, slot.offset + slot.param.size);
            b.ready++;
          }
        }
        if (b.ready < b.expected && b === this.lossBucket() && !this.lossSet) {
          throw new Error("DDP: averageLoss is on but setLoss() was not called before backward; call it with the step's loss");
        }
      }
    }
    this.startReadyBuckets();
    const t = performance.now();
    try {
      for (const b of this.buckets) await b.work!.wait();
    } finally {
      const waitMs = performance.now() - t + this.blockedInStartMs;
      this.lastTiming = { commMs: Math.max(0, this.lastDone - this.firstStart), waitMs, buckets: this.buckets.length };
      this.blockedInStartMs = 0;
      for (const b of this.buckets) {
        b.ready = 0;
        b.work = null;
      }
      this.nextToStart = 0;
      this.lossSet = false;
    }
    for (const b of this.buckets) {
      for (const slot of b.slots) {
        slot.param.grad = new Tensor(b.buffer.subarray(slot.offset, slot.offset + slot.param.size), slot.param.shape);
      }
    }
  }

  /**
   * Whether every rank still has a batch. Ranks with uneven data call this before each step and
   * stop together after the same step, instead of one waiting forever in an all-reduce that the
   * others never start (PyTorch's Join context solves the same problem).
   */
  async allHaveWork(hasWork: boolean): Promise<boolean> {
    this.flag[0] = hasWork ? 1 : 0;
    await this.pg.allReduce(this.flag, { op: "sum", ...(this.options.timeoutMs === undefined ? {} : { timeoutMs: this.options.timeoutMs }) });
    return this.flag[0] === this.pg.worldSize;
  }

  /** SHA-256 of all parameters and buffers, in order: equal on every rank after every step (Note [bitwise-identical replicas]). */
  parameterDigest(): string {
    const h = createHash("sha256");
    for (const [, t] of [...this.model.namedParameters(), ...this.model.namedBuffers()]) {
      const d = t.dense();
      h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    }
    return h.digest("hex");
  }
}
