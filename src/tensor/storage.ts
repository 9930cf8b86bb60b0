// Buffers for kernel outputs. `new Float32Array(n)` zero-fills, which for a CNN step's activations
// and gradients costs as much as a small kernel; outputs that a kernel overwrites entirely
// (Note [kernel conventions] in src/backend/backend.ts) skip it.
//
// Note [reusing a step's buffers]
// A training step allocates its activations and their gradients afresh, tens of megabytes that
// are garbage by the step's end. V8 counts such buffers as external memory and answers the growth
// with a scavenge about every step and a full collection every fifteen (MNIST: 267 and 18 in 250
// steps, 10% of the step's time), and each fresh buffer faults in new pages. Inside
// reusingBuffers() (the training loop runs every step in it), the backward pass hands back the
// buffers it knows are dead, and uninitialized() gives them out again for the same size:
//   - an op output's storage, once its own backward has run (every op that read it has had its
//     backward run before, in reverse topological order), if that output was the first tensor
//     over a buffer uninitialized() gave out in the step and it was not detach()ed, which is how
//     a tensor is kept past a step;
//   - a gradient buffer flowing into a node, once the node's backward has run, if the node owned
//     it and no other node adopted it (accumulateGrad records who holds each gradient buffer);
//   - an op's private int32 buffer (a max-pool's indices), once its backward has run
//     (recycleInt32), into a pool of its own;
//   - a parameter's gradient once DDP has copied it into its bucket (Note [the gradient moves
//     into its bucket] in distributed/strategies/ddp.ts).
// Handing back moves the memory to a new ArrayBuffer (a transfer, 2 µs) and so detaches the old
// one: a tensor still held somewhere reads as empty and says so (Tensor.checkStorage, from
// dense(), item() and, for each node and its inputs, the backward pass), and a raw array kept
// from it has length 0; neither ever reads another tensor's numbers. That covers what shares a
// buffer without detach(): a view made under noGrad used later as a constant,
// `new Tensor(x.data)`, a second backward through a graph whose first backward already ran. The first tensor made over a fresh buffer claims it (the Tensor
// constructor), so no later alias of it can hand it back.
// The pool holds at most POOL_CAP_BYTES; what does not fit is left to the collector. The scope is
// process-wide: while a step runs, every backward in the process reuses (ranks in one process
// step together). Outside it nothing changes: a tensor lives as long as it is referenced, as
// everywhere in JavaScript.

/** Below this many floats a fresh buffer is cheap and pooling is not worth the bookkeeping. */
const MIN_POOLED_FLOATS = 1024;
/** The most bytes the pool keeps between uses. */
const POOL_CAP_BYTES = 512 * 1024 * 1024;

const free = new Map<number, Float32Array[]>();
/** Int32 buffers (max-pool indices) by length, apart: a buffer is handed out again as the type it was made. */
const freeInt32 = new Map<number, Int32Array[]>();
let pooledBytes = 0;
let reuseDepth = 0;
let givenAgain = 0;
let int32GivenAgain = 0;
/** Buffers uninitialized() made or gave out, whole-buffer views: the only ones the pool takes back. */
const ours = new WeakSet<Float32Array>();
/** The int32 buffers uninitializedInt32() gave out in a step and not yet handed back. */
const oursInt32 = new WeakSet<Int32Array>();
/** Those of them no op output has claimed yet. */
const unclaimed = new WeakSet<Float32Array>();
/** Buffers a detach()ed tensor shares: kept past the step. */
const kept = new WeakSet<Float32Array>();

function fresh(n: number): Float32Array {
  return new Float32Array(Buffer.allocUnsafeSlow(n * 4).buffer, 0, n);
}

/** n float32 elements with unspecified contents: only for a buffer a kernel will overwrite entirely. */
export function uninitialized(n: number): Float32Array {
  if (n < MIN_POOLED_FLOATS) return fresh(n);
  const reused = free.get(n)?.pop();
  if (reused) {
    pooledBytes -= n * 4;
    givenAgain++;
  }
  const out = reused ?? fresh(n);
  ours.add(out);
  // Only a buffer made inside a step can become an op output's own: one made before (a parameter,
  // a batch) may be passed through by an op that returns its input's storage.
  if (reuseDepth > 0) unclaimed.add(out);
  return out;
}

/**
 * n int32 elements with unspecified contents (a max-pool's argmax, which its kernel fills). Inside
 * a step they come from a pool of their own, to which the op's backward hands them back
 * (recycleInt32): MNIST's two max-pools made 2 MB of fresh indices a step, two thirds of what a
 * step still allocated once activations were reused, and V8 collects about every 20 MB.
 */
export function uninitializedInt32(n: number): Int32Array {
  const pooled = n >= MIN_POOLED_FLOATS && reuseDepth > 0;
  const reused = pooled ? freeInt32.get(n)?.pop() : undefined;
  if (reused) {
    pooledBytes -= n * 4;
    int32GivenAgain++;
  }
  const out = reused ?? new Int32Array(Buffer.allocUnsafeSlow(n * 4).buffer, 0, n);
  if (pooled) oursInt32.add(out);
  return out;
}

/**
 * @internal Hands back an op's private int32 buffer, one only its backward closure holds, once
 * that closure has run (it runs once: Note [freeing the graph] in autograd.ts), when the buffer
 * was given out in a step. Like recycle(), it moves the memory: a stale holder reads length 0.
 */
export function recycleInt32(data: Int32Array): void {
  if (reuseDepth === 0 || !oursInt32.delete(data)) return;
  shelve(freeInt32, data, (memory) => new Int32Array(memory));
}

/** @internal The first tensor over `data` takes it as its own: true once, for a buffer uninitialized() gave out in a step. */
export function claimStorage(data: Float32Array): boolean {
  return unclaimed.delete(data);
}

/** @internal A tensor sharing `data` outlives the step (detach()): its buffer is never handed back. */
export function keepStorage(data: Float32Array): void {
  kept.add(data);
}

/** @internal Whether the backward pass hands back dead buffers now. */
export function reusing(): boolean {
  return reuseDepth > 0;
}

/** @internal Hands a dead buffer back to the pool (Note [reusing a step's buffers]). */
export function recycle(data: Float32Array): void {
  if (!ours.has(data) || kept.has(data) || data.length === 0) return;
  ours.delete(data);
  shelve(free, data, (memory) => new Float32Array(memory));
}

/** Moves `data`'s memory into `pool` unless that passes the cap: a transfer, so every old view of it reads empty. */
function shelve<T extends Float32Array | Int32Array>(pool: Map<number, T[]>, data: T, view: (memory: ArrayBufferLike) => T): void {
  const bytes = data.byteLength;
  if (pooledBytes + bytes > POOL_CAP_BYTES) return;
  const moved = view(structuredClone(data.buffer, { transfer: [data.buffer] }));
  const list = pool.get(moved.length);
  if (list) list.push(moved);
  else pool.set(moved.length, [moved]);
  pooledBytes += bytes;
}

/**
 * Runs `fn` (a training step: forward, backward, optimizer; synchronous or async) with the
 * backward pass handing its dead activation and gradient buffers back for the next step to reuse
 * (Note [reusing a step's buffers]). `fit` runs every step this way. A tensor made in the step and
 * wanted after it must be detach()ed (or cloned) inside it; one that was not reads as empty and
 * throws.
 *
 * @example A tensor the step made is read after it only if it was detached in it
 * ```ts
 * import { mul, relu, reusingBuffers, sum, tensor, type Tensor } from "weft";
 * const x = tensor(Array.from({ length: 2048 }, (_, i) => i - 1024), [2048], { requiresGrad: true });
 * let hidden: Tensor | undefined, kept: Tensor | undefined;
 * await reusingBuffers(async () => {
 *   hidden = relu(x);
 *   const doubled = mul(hidden, 2);
 *   kept = doubled.detach();
 *   sum(doubled).backward();
 * });
 * assert.equal(x.grad!.dense()[2000], 2);
 * assert.equal(kept!.dense()[2000], 2 * 976);
 * assert.throws(() => hidden!.dense(), /reused/);
 * ```
 */
export function reusingBuffers<T>(fn: () => T): T {
  reuseDepth++;
  let result: T;
  try {
    result = fn();
  } catch (err) {
    reuseDepth--;
    throw err;
  }
  // An async step (fit's strategies) reuses until it settles; a synchronous one (a benchmark's) until it returns.
  if (result instanceof Promise) return result.finally(() => reuseDepth--) as T;
  reuseDepth--;
  return result;
}

/** @internal How many times uninitialized() has given out a handed-back buffer (tests: reuse happened). */
export function buffersReused(): number {
  return givenAgain;
}

/** @internal The same for uninitializedInt32(). */
export function int32BuffersReused(): number {
  return int32GivenAgain;
}

/** Lets the collector have every pooled buffer (the training loop calls it when it ends). */
export function releaseBufferPool(): void {
  free.clear();
  freeInt32.clear();
  pooledBytes = 0;
}
