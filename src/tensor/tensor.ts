// The Tensor: a float32 view (shape, strides, offset) of a storage buffer, plus what reverse-mode
// autograd needs: whether it requires a gradient, the function that produced it, and its gradient.
//
// Views (reshape of a contiguous tensor, transpose, permute, slice, expand) share storage and cost
// nothing; kernels that need a dense layout ask for `contiguous()`, which copies only when it must.
// Storage is float32 today; `dtype` is kept on the tensor so bf16/fp16 storage can be added later.
import { backend } from "../backend/index.js";
import { contiguousStrides, formatShape, i32, sizeOf, type Shape } from "./shape.js";
import { recordActivation } from "./activation-bytes.js";
import { runBackward } from "./autograd.js";
import { claimStorage, keepStorage, recycle, uninitialized } from "./storage.js";

export type DType = "float32";

/** How a tensor was computed: its inputs, and how to send its gradient back to them. */
export interface GradFn {
  readonly name: string;
  readonly inputs: readonly Tensor[];
  /**
   * Receives this tensor's gradient (contiguous, this tensor's shape) and accumulates into the
   * inputs'. `owned`: the buffer is this tensor's alone, so a backward that passes it on unchanged
   * (an identity view's) may hand it over rather than lend it.
   */
  backward(grad: Float32Array, owned: boolean): void;
}

export type GradHook = (param: Tensor) => void;

/** A view's place in its base's contiguous gradient: element idx at logicalOffset + sum(idx * logicalStrides). */
interface ViewSource {
  readonly base: Tensor;
  readonly logicalStrides: Int32Array;
  readonly logicalOffset: number;
  /** The view covers the base in the same order (reshape): the two gradients share one layout. */
  readonly identity: boolean;
}

export class Tensor {
  readonly dtype: DType = "float32";
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly size: number;
  requiresGrad: boolean;
  /** The accumulated gradient of a leaf tensor (a parameter), or null before the first backward. */
  grad: Tensor | null = null;
  gradFn: GradFn | null = null;
  /** @internal The gradient flowing into this tensor during one backward pass. */
  pendingGrad: Float32Array | null = null;
  /** @internal True when pendingGrad is borrowed from another tensor and must be copied before accumulating into. */
  pendingShared = false;
  /** @internal Hooks run once this leaf's gradient is complete in a backward pass. */
  gradHooks: GradHook[] = [];
  /** @internal For a view: where its elements sit in its base's gradient (Note [view gradients go to the base]). */
  viewSource: ViewSource | null = null;
  /** @internal Bytes this op output adds to the activation count, and when (Note [counting activation bytes]). */
  heldBytes = 0;
  /** @internal */
  heldGeneration = 0;
  /**
   * @internal The first tensor over a buffer uninitialized() gave out in a step: for an op output,
   * the backward may hand it back (Note [reusing a step's buffers]).
   */
  ownsStorage: boolean;

  constructor(
    readonly data: Float32Array,
    shape: Shape,
    strides?: Shape,
    readonly offset = 0,
    requiresGrad = false,
  ) {
    this.shape = [...shape];
    this.strides = strides ? [...strides] : contiguousStrides(shape);
    this.size = sizeOf(shape);
    this.requiresGrad = requiresGrad;
    // Taken by whichever tensor comes first, so no later alias (a view, a leaf over an op's output) can own it.
    this.ownsStorage = claimStorage(data);
    if (!strides && offset + this.size > data.length) {
      throw new RangeError(`Tensor: shape ${formatShape(shape)} needs ${this.size} elements, storage has ${data.length - offset}`);
    }
  }

  get rank(): number {
    return this.shape.length;
  }

  /** True when the elements lie in row-major order without gaps (size-1 axes may have any stride). */
  isContiguous(): boolean {
    let expected = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      const d = this.shape[i]!;
      if (d !== 1 && this.strides[i] !== expected) return false;
      expected *= d;
    }
    return true;
  }

  /** The elements in row-major order, as a buffer of exactly `size` elements (a view when possible). */
  dense(): Float32Array {
    this.checkStorage();
    if (!this.isContiguous()) return this.contiguous().data;
    if (this.offset === 0 && this.data.length === this.size) return this.data;
    return this.data.subarray(this.offset, this.offset + this.size);
  }

  /** This tensor if it is contiguous, else a contiguous copy (which gradients flow through). */
  contiguous(): Tensor {
    if (this.isContiguous()) return this;
    const out = uninitialized(this.size);
    backend().copyStrided(this.data, this.offset, i32(this.strides), out, i32(this.shape));
    // The copy's gradient is laid out exactly like this tensor's own (contiguous) gradient.
    return fromOp("contiguous", out, this.shape, [this], (g, owned) => accumulateGrad(this, g, owned));
  }

  toArray(): number[] {
    return Array.from(this.dense());
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new RangeError(`item: tensor of shape ${formatShape(this.shape)} has ${this.size} elements, not 1`);
    this.checkStorage();
    return this.data[this.offset]!;
  }

  /** A tensor sharing this one's storage but cut off from the graph, kept past a training step. */
  detach(): Tensor {
    keepStorage(this.data);
    return new Tensor(this.data, this.shape, this.strides, this.offset, false);
  }

  /**
   * @internal Folds this pass's pending gradient into `.grad` (a new tensor, or added to the one
   * there) and runs the gradient-ready hooks (Note [gradient-ready hooks]); nothing when no
   * gradient reached it. The backward pass calls it for leaves (autograd.ts).
   */
  finishLeaf(): void {
    const g = this.pendingGrad;
    this.pendingGrad = null;
    if (g === null) return;
    if (this.grad === null) this.grad = new Tensor(this.pendingShared ? g.slice() : g, this.shape);
    else backend().axpy(1, g, this.grad.data, this.size);
    this.pendingShared = false;
    for (const hook of this.gradHooks) hook(this);
  }

  /** @internal Throws if this tensor's storage was handed back for reuse (Note [reusing a step's buffers]). */
  checkStorage(): void {
    if (this.data.length === 0 && this.size > 0) {
      throw new Error(`Tensor ${formatShape(this.shape)}: its storage was reused after its backward ran (a training step reuses its activations' buffers); detach() or clone it inside the step to keep it`);
    }
  }

  /**
   * @internal Called once this node's backward has run on `grad` (borrowed when `gradShared`):
   * hands back the buffers only it held (Note [reusing a step's buffers]).
   */
  releaseStorage(grad: Float32Array | null, gradShared: boolean): void {
    if (grad !== null && !gradShared && gradHolder.get(grad) === this) recycle(grad);
    if (this.ownsStorage && !gradHolder.has(this.data)) recycle(this.data);
  }

  /** Reverse-mode autograd from this tensor: a scalar, or any tensor given its gradient. */
  backward(grad?: Tensor): void {
    let seed: Float32Array;
    if (grad) {
      if (grad.size !== this.size) throw new RangeError(`backward: gradient of ${grad.size} elements for a tensor of ${this.size}`);
      seed = grad.dense().slice();
    } else {
      if (this.size !== 1) throw new RangeError(`backward: call it on a scalar (got shape ${formatShape(this.shape)}) or pass a gradient`);
      seed = new Float32Array([1]);
    }
    runBackward(this, seed);
  }

  /** Runs `hook` each time this leaf's gradient is complete during backward (DDP starts communication here). */
  onGradReady(hook: GradHook): () => void {
    this.gradHooks.push(hook);
    return () => {
      this.gradHooks = this.gradHooks.filter((h) => h !== hook);
    };
  }

  toString(): string {
    return `Tensor(${formatShape(this.shape)}${this.gradFn ? `, grad_fn=${this.gradFn.name}` : ""})`;
  }
}

// ---- autograd plumbing used by every op ------------------------------------------------------

/**
 * @internal `t`'s storage cut off from the graph, for a backward's own arithmetic on its inputs:
 * unlike detach() it leaves the storage free to be handed back after the step.
 */
export function unrecorded(t: Tensor): Tensor {
  return new Tensor(t.data, t.shape, t.strides, t.offset, false);
}

let gradDisabled = 0;

/** Runs `fn` without recording operations for autograd (evaluation, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  gradDisabled++;
  try {
    return fn();
  } finally {
    gradDisabled--;
  }
}

export function isGradEnabled(): boolean {
  return gradDisabled === 0;
}

/**
 * Wraps an op's freshly computed output. When grad mode is on and an input requires a gradient,
 * the output records `backward` (which must call accumulateGrad for each input that needs it).
 * `savedBytes` counts a buffer the backward keeps besides the inputs and the output (linear's
 * GELU derivative), which would otherwise have been an op output of its own.
 */
export function fromOp(
  name: string,
  data: Float32Array,
  shape: Shape,
  inputs: readonly Tensor[],
  backward: (grad: Float32Array, owned: boolean) => void,
  savedBytes = 0,
): Tensor {
  const out = new Tensor(data, shape);
  if (gradDisabled === 0 && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.gradFn = { name, inputs, backward };
    // Note [counting activation bytes] (activation-bytes.ts): float32 elements, 4 bytes each.
    recordActivation(out, out.size * 4 + savedBytes);
  }
  return out;
}

/**
 * A view of `base` sharing its storage, at (shape, strides, offset) of the storage. For the
 * backward, `logicalStrides` / `logicalOffset` place the view in the base's own contiguous
 * gradient: view element idx is base gradient element logicalOffset + sum(idx * logicalStrides).
 * `identity` says the view covers the base in the same order (reshape), so the gradient is shared.
 */
export function viewOf(
  base: Tensor, name: string, shape: Shape, strides: Shape, offset: number,
  logicalStrides: Shape, logicalOffset: number, identity = false,
): Tensor {
  const out = new Tensor(base.data, shape, strides, offset);
  if (gradDisabled === 0 && base.requiresGrad) {
    out.requiresGrad = true;
    const ls = i32(logicalStrides);
    const sh = i32(shape);
    out.viewSource = { base, logicalStrides: ls, logicalOffset, identity };
    out.gradFn = {
      name,
      inputs: [base],
      backward: (g, owned) => {
        // Handed over when it is ours: the base may then write into it, and hand it back after its own backward.
        if (identity) return accumulateGrad(base, g, owned);
        accumulateGradStrided(base, g, sh, logicalOffset, ls);
      },
    };
  }
  return out;
}

/**
 * The tensor that last took each gradient buffer as its pending gradient, owned or borrowed: a
 * node hands its gradient back only if it is still the holder (Note [reusing a step's buffers]).
 */
const gradHolder = new WeakMap<Float32Array, Tensor>();

/**
 * Adds `grad` (contiguous, t's shape) to t's pending gradient. With `owned`, the caller hands the
 * buffer over and t may keep it; otherwise t borrows it and copies before ever writing to it.
 */
export function accumulateGrad(t: Tensor, grad: Float32Array, owned: boolean): void {
  if (!t.requiresGrad) return;
  if (t.pendingGrad === null) {
    t.pendingGrad = grad;
    t.pendingShared = !owned;
    gradHolder.set(grad, t);
    return;
  }
  if (t.pendingShared) {
    if (owned) {
      // Ours to write: add the borrowed buffer into it rather than copy the borrowed one first
      // (a residual stream's gradient meets its branch's here; a + b rounds as b + a).
      backend().axpy(1, t.pendingGrad, grad, t.size);
      t.pendingGrad = grad;
      t.pendingShared = false;
      gradHolder.set(grad, t);
      return;
    }
    t.pendingGrad = t.pendingGrad.slice();
    t.pendingShared = false;
  }
  backend().axpy(1, grad, t.pendingGrad, t.size);
}

// Note [view gradients go to the base]
// A chain of views (the q, k and v heads split from a permuted reshape of a qkv projection) would
// send its gradient down level by level: each level zero-fills a buffer of its input's size and
// adds its piece in with a strided pass, and the next level does the same again. Instead, when
// the tensor a view's gradient lands in is itself a view whose backward has not run yet, the
// piece goes straight on to that view's base, its offset and strides composed with the view's
// place in the base; a gradient that reaches the view from elsewhere (any op but a view) still
// waits in the view's own buffer and follows at its backward. Composing is exact when each axis
// of the piece walks along a single axis of the view's layout without carrying into the next
// (checked; otherwise the piece stops here as before). And a piece that covers its target
// whole, in the target's own order (the two transposes around attention's output compose to
// that), is lent as it is: no zero-fill, no pass at all.

/** The piece (shape, offset, strides in t's contiguous gradient) placed in t's base instead, or null when it does not compose. */
function throughView(t: Tensor, src: ViewSource, shape: Int32Array, offset: number, strides: Int32Array): { offset: number; strides: Int32Array } | null {
  if (src.identity) return { offset, strides };
  const cs = contiguousStrides(t.shape);
  const start = t.shape.map((d, i) => Math.floor(offset / cs[i]!) % d);
  const reach = [...start];
  let placed = src.logicalOffset;
  start.forEach((j, i) => (placed += j * src.logicalStrides[i]!));
  const out = new Int32Array(shape.length);
  for (let a = 0; a < shape.length; a++) {
    const s = strides[a]!;
    if (shape[a]! <= 1 || s === 0) continue;
    // The axis of t whose step divides s without reaching the next axis out.
    const d = cs.findIndex((c, i) => t.shape[i]! > 1 && c <= s && (i === 0 || s < cs[i - 1]!));
    if (d < 0 || s % cs[d]! !== 0) return null;
    const q = s / cs[d]!;
    reach[d]! += q * (shape[a]! - 1);
    out[a] = q * src.logicalStrides[d]!;
  }
  return reach.every((r, i) => r < t.shape[i]!) ? { offset: placed, strides: out } : null;
}

/** True when (shape, offset 0, strides) is every element of a t-sized gradient in order. */
function coversInOrder(t: Tensor, shape: Int32Array, offset: number, strides: Int32Array): boolean {
  if (offset !== 0 || sizeOf(Array.from(shape)) !== t.size) return false;
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i]! !== 1 && strides[i] !== expected) return false;
    expected *= shape[i]!;
  }
  return true;
}

/**
 * Adds a view's gradient `grad` (contiguous, `shape`) into `t`'s pending gradient at the view's
 * place (offset and strides in t's contiguous layout), in place: the pieces of a split or the
 * slices of a sequence land in one buffer instead of one zero-filled copy of t each, and through
 * a chain of views in their first base's (Note [view gradients go to the base]).
 */
export function accumulateGradStrided(t: Tensor, grad: Float32Array, shape: Int32Array, offset: number, strides: Int32Array): void {
  if (!t.requiresGrad) return;
  const src = t.viewSource;
  if (src !== null && t.gradFn !== null) {
    const placed = throughView(t, src, shape, offset, strides);
    if (placed) return accumulateGradStrided(src.base, grad, shape, placed.offset, placed.strides);
  }
  if (coversInOrder(t, shape, offset, strides)) return accumulateGrad(t, grad, false);
  if (t.pendingGrad === null) {
    t.pendingGrad = new Float32Array(t.size);
    t.pendingShared = false;
  } else if (t.pendingShared) {
    t.pendingGrad = t.pendingGrad.slice();
    t.pendingShared = false;
  }
  backend().accumulateStrided(grad, shape, t.pendingGrad, offset, strides);
}
