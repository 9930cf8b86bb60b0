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
// the same order — and each parameter's .grad becomes a view of its slot (no copy back): after the
// reduce, or in a step that reuses buffers from the hook on (Note [the gradient moves into its
// bucket]).
//
// Note [hooks]
// What a bucket's all-reduce is can be swapped: DDP hands each full bucket to a GradHook
// (grad-hook.ts), which leaves in it the gradients to step with. The default hook is the one
// averaging all-reduce described above, unchanged (allreduce-hook.ts); `gradCompression` chooses
// another (bf16 on the wire, PowerSGD, top-k: grad-compression.ts, docs/compression.md). Buckets
// go to the hook in index order; a hook with several phases gets the next bucket only once the
// previous one is done (Note [hook order] in grad-hook.ts).
//
// Note [the gradient moves into its bucket]
// Inside a step that reuses its buffers (fit's, Note [reusing a step's buffers] in
// tensor/storage.ts), once a gradient is copied into its bucket the parameter's .grad becomes
// that slot at once (PyTorch's gradient_as_bucket_view) and the buffer backward made for it goes
// back to the pool, where the next step's backward finds it (MNIST: 0.9 MB a step that was
// fresh memory; with the max-pools' indices pooled too, a worker's scavenges in 500 steps fell
// from 179-192 to 53-72, BENCHMARKS.md). As with PyTorch's option, read gradients after
// finishGradients(): a later gradient hook sees the slot, which holds this rank's gradient until
// the bucket's all-reduce runs and is reduced in place while it runs (over TCP on the comm
// thread while backward goes on; a step that failed leaves it part-reduced). A Tensor kept from
// the old .grad by an earlier hook throws when read; a raw array kept from it reads as empty.
//
// Note [bitwise-identical replicas]
// The all-reduce gives every rank the same bytes (the reduction order is fixed), and every rank
// starts from rank 0's parameters (broadcast at creation), so identical optimizer steps keep the
// replicas identical bit for bit. parameterDigest() lets a test or a paranoid job check it.
import type { Module } from "../../nn/index.js";
import { Tensor } from "../../tensor/tensor.js";
import { recycle, reusing } from "../../tensor/storage.js";
import type { ProcessGroup, Work } from "../group/process-group.js";
import { sharedFloat32Array } from "../base/shared-buffer.js";
import { modelDigest } from "./flat-state.js";
import type { GradBucket, GradHook } from "./grad-hook.js";
import { gradHookFor, type GradCompression } from "./grad-compression.js";

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
   * How each bucket is averaged (Note [hooks]): "none" (default: one all-reduce, exact), "bf16"
   * (bf16 elements on the wire), "powersgd:R" (rank-R factors of each matrix), "topk:F" (the
   * fraction F of largest entries), as `--grad-compression` takes them; or a GradHook of one's
   * own, used by this DDP alone (hooks keep per-bucket state).
   */
  gradCompression?: GradCompression | GradHook;
}

// Note [the loss is averaged beside the gradients]
// Every rank must agree on whether a step's loss is finite: a rank that alone saw NaN and
// stopped would leave the others waiting in an all-reduce until its deadline, and a rank that
// alone went on would step on NaN gradients. So the loss is all-reduced every step, the one float
// beside the gradients: over TCP setLoss() starts it before backward and it runs on the comm
// thread while backward computes. It is its own all-reduce rather than a slot in a
// gradient bucket because a bucket may travel compressed (bf16/f16 partial sums would round the
// loss, and overflow f16 at a few tens of thousands), while the loss's asks for f32 whatever the
// group's default. After finishGradients() every rank holds the same average, so all of them take
// the same decision.
// Where collectives run on the calling thread (shared memory, a group of one), an all-reduce
// waits there until every rank has called it, so one started before backward made every step
// meet twice: after forward, and at the gradients. Each meeting costs what the ranks' work since
// the last one differed by (MNIST, two workers: 0.8-1.1 ms a step in setLoss alone, besides
// 1.4-1.8 ms at the gradients). There the loss's all-reduce follows the gradients' instead,
// once they are all done, on every rank alike; the ranks have just met, so it costs a few
// microseconds. Over TCP it still starts before backward and overlaps it.

interface Slot {
  param: Tensor;
  offset: number;
  bucket: Bucket;
  /** The gradient-ready hook copied this step's gradient in. */
  filled: boolean;
}

interface Bucket {
  buffer: Float32Array; // shared memory: the comm thread reduces it in place
  slots: Slot[];
  ready: number;
  /** The hook's reduction of this step, once started. */
  work: Promise<void> | null;
  /** What the hook is given: the buffer and its parameters' places and shapes. */
  view: GradBucket;
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
}

export class DistributedDataParallel {
  private readonly buckets: Bucket[] = [];
  private readonly slotOf = new Map<Tensor, Slot>();
  private readonly unhook: (() => void)[] = [];
  private nextToStart = 0;
  private readonly flag = sharedFloat32Array(1);
  private readonly loss = sharedFloat32Array(1);
  private lossWork: Work | null = null;
  /** setLoss() was called and its all-reduce waits for the gradients' (Note [the loss is averaged beside the gradients]). */
  private lossDeferred = false;
  private readonly hook: GradHook;
  /** This step's last started reduction, which a hook with phases waits for (Note [hook order]). */
  private lastStarted: Promise<void> | null = null;
  private syncing = true;
  private detached = false;
  private firstStart = 0;
  private lastDone = 0;
  private blockedInStartMs = 0;
  /** Timing of the most recent finishGradients(). */
  lastTiming: DdpStepTiming = { commMs: 0, waitMs: 0 };

  private constructor(readonly model: Module, readonly pg: ProcessGroup, private readonly options: DdpOptions, hook: GradHook) {
    this.hook = hook;
    const capacity = Math.max(1, Math.floor((options.bucketBytes ?? DEFAULT_BUCKET_BYTES) / 4));
    const params = model.parameters().filter((p) => p.requiresGrad).reverse();
    let group: Tensor[] = [];
    let size = 0;
    const flush = () => {
      if (group.length === 0) return;
      const buffer = sharedFloat32Array(size);
      const bucket: Bucket = { buffer, slots: [], ready: 0, work: null, view: { index: this.buckets.length, buffer, slots: [] } };
      let offset = 0;
      for (const param of group) {
        const slot = { param, offset, bucket, filled: false };
        bucket.slots.push(slot);
        this.slotOf.set(param, slot);
        offset += param.size;
      }
      bucket.view = { ...bucket.view, slots: bucket.slots.map((s) => ({ offset: s.offset, shape: s.param.shape })) };
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
    for (const p of params) this.unhook.push(p.onGradReady((t) => this.onGradReady(t)));
  }

  private timeout(): { timeoutMs?: number } {
    return this.options.timeoutMs === undefined ? {} : { timeoutMs: this.options.timeoutMs };
  }

  /**
   * Wraps `model` for data-parallel training on `pg`: rank 0's parameters and buffers are
   * broadcast to every rank, then gradient hooks are installed.
   */
  static async create(model: Module, pg: ProcessGroup, options: DdpOptions = {}): Promise<DistributedDataParallel> {
    // Before any collective: a bad value is refused on every rank alike, with nothing left waiting.
    const compression = options.gradCompression ?? "none";
    const hook = typeof compression === "string" ? gradHookFor(compression) : compression;
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
    return new DistributedDataParallel(model, pg, options, hook);
  }

  /** The name of the hook that averages the buckets ("none", "powersgd:4"...; Note [hooks]). */
  get gradCompression(): string {
    return this.hook.name;
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

  /** This step's loss, to be averaged over the ranks by finishGradients() (Note [the loss is averaged beside the gradients]); call before backward. */
  setLoss(loss: number): void {
    if (this.lossWork !== null || this.lossDeferred) throw new Error("DDP: setLoss() called twice in one step; call finishGradients() after each backward");
    this.loss[0] = loss;
    if (this.pg.collectivesInline) this.lossDeferred = true;
    else this.lossWork = this.averageLoss();
  }

  private averageLoss(): Work {
    return this.pg.allReduceAsync(this.loss, { op: "avg", wire: "f32", ...this.timeout() });
  }

  /** The loss averaged over the ranks, after finishGradients() of a step that called setLoss(). */
  averagedLoss(): number {
    return this.loss[0]!;
  }

  private onGradReady(param: Tensor): void {
    if (!this.syncing || this.detached) return;
    const slot = this.slotOf.get(param)!;
    const b = slot.bucket;
    if (b.work !== null || slot.filled) {
      throw new Error(`DDP: a parameter's gradient became ready twice in one backward; call finishGradients() after each backward`);
    }
    const grad = param.grad!.dense();
    const target = b.buffer.subarray(slot.offset, slot.offset + param.size);
    if (grad !== target) {
      target.set(grad);
      // Note [the gradient moves into its bucket]
      if (reusing()) {
        param.grad = new Tensor(target, param.shape);
        recycle(grad);
      }
    }
    slot.filled = true;
    b.ready++;
    this.startReadyBuckets();
  }

  /** Starts every full bucket from nextToStart on, in order. */
  private startReadyBuckets(): void {
    while (this.nextToStart < this.buckets.length) {
      const b = this.buckets[this.nextToStart]!;
      if (b.ready < b.slots.length) return;
      const t = performance.now();
      if (this.nextToStart === 0) this.firstStart = t;
      b.work = this.lastStarted === null || this.hook.submitsAtOnce ? this.runHook(b) : this.lastStarted.then(() => this.runHook(b));
      this.lastStarted = b.work;
      this.blockedInStartMs += performance.now() - t;
      void b.work.then(() => (this.lastDone = performance.now()), () => {});
      this.nextToStart++;
    }
  }

  /** The hook's reduction of `b`, its synchronous throw as a rejection. */
  private runHook(b: Bucket): Promise<void> {
    try {
      return this.hook.reduce(b.view, this.pg, this.timeout());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Waits for every bucket's all-reduce (and the loss's) and points each parameter's .grad at its
   * averaged slot. A slot the hook did not fill this step (a parameter unused in this backward)
   * contributes the local gradient accumulated under noSync() if there is one, zeros otherwise, so
   * every rank still issues the same collectives.
   */
  async finishGradients(): Promise<void> {
    const t = performance.now();
    try {
      for (const b of this.buckets) {
        if (b.work !== null) continue;
        for (const slot of b.slots) {
          if (slot.filled) continue;
          const target = b.buffer.subarray(slot.offset, slot.offset + slot.param.size);
          const g = slot.param.grad;
          // A gradient that is this slot's own view is last step's average, not this step's.
          if (g !== null && g.data.buffer !== b.buffer.buffer) target.set(g.dense());
          else target.fill(0);
          slot.filled = true;
          b.ready++;
        }
      }
      this.startReadyBuckets();
      if (this.lossWork) await this.lossWork.wait();
      for (const b of this.buckets) await b.work!;
      if (this.lossDeferred) await this.averageLoss().wait();
    } finally {
      const waitMs = performance.now() - t + this.blockedInStartMs;
      this.lastTiming = { commMs: Math.max(0, this.lastDone - this.firstStart), waitMs };
      this.blockedInStartMs = 0;
      for (const b of this.buckets) {
        b.ready = 0;
        b.work = null;
        for (const slot of b.slots) slot.filled = false;
      }
      this.nextToStart = 0;
      this.lastStarted = null;
      this.lossWork = null;
      this.lossDeferred = false;
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
    await this.pg.allReduce(this.flag, { op: "sum", ...this.timeout() });
    return this.flag[0] === this.pg.worldSize;
  }

  /** Removes the gradient hooks: the model trains on its own again (a later DDP may wrap it). */
  detach(): void {
    this.detached = true;
    for (const off of this.unhook.splice(0)) off();
  }

  /** SHA-256 of all parameters and buffers, in order: equal on every rank after every step (Note [bitwise-identical replicas]). */
  parameterDigest(): string {
    return modelDigest(this.model);
  }
}
