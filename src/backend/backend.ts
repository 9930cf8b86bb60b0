// The kernel table every backend implements. The tensor layer (src/tensor) calls nothing else, so
// a backend is exactly this list of functions on float32 buffers.
//
// Note [kernel conventions]
// - Buffers are Float32Array (Int32Array for indices); sizes and offsets count elements.
// - Every kernel OVERWRITES its outputs unless its comment says "accumulates". Autograd sums
//   gradients itself (axpy), so a kernel never depends on what was in its output before.
// - Inputs are contiguous row-major unless the kernel takes strides. Strides are in elements and
//   may be 0 (a broadcast axis) or any non-negative value (transposed and sliced views).
// - `native` (the C++ addon) implements these with the same names and argument order; the
//   `reference` backend (plain TypeScript) is the definition the native kernels are tested against.

/** Element-wise functions of one input. The index of a name is its code in the native addon. */
export const UNARY_OPS = [
  "neg", "exp", "log", "sqrt", "rsqrt", "abs", "tanh", "sigmoid", "relu", "gelu", "square", "reciprocal",
] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];

/** Element-wise functions of two inputs (with broadcasting). Index = native code. */
export const BINARY_OPS = ["add", "sub", "mul", "div", "max", "min", "pow"] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];

/** What a GEMM's epilogue applies to each element after the bias and residual (gemmEpilogue). Index = native code. */
export const ACTIVATIONS = ["none", "relu", "gelu"] as const;
export type Activation = (typeof ACTIVATIONS)[number];

/** Reductions over the middle axis of a (outer, n, inner) view. Index = native code. */
export const REDUCE_OPS = ["sum", "max", "min"] as const;
export type ReduceOp = (typeof REDUCE_OPS)[number];

/**
 * Batched GEMM: for each b < batch,
 *   C_b = alpha * op(A_b) * op(B_b) + beta * C_b, with op(A_b) m x k and op(B_b) k x n, row-major,
 * where X_b starts at offsetX + b * strideX. With transA, A_b is stored k x m (lda >= m), else
 * m x k (lda >= k); likewise B. beta == 0 overwrites C without reading it.
 */
export interface GemmParams {
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
  alpha: number;
  beta: number;
  lda: number;
  ldb: number;
  ldc: number;
  batch: number;
  offsetA: number;
  offsetB: number;
  offsetC: number;
  strideA: number;
  strideB: number;
  strideC: number;
  /**
   * Round every element of A and B to bfloat16 (nearest, ties to even) before multiplying; the
   * products and their sums stay float32, as C does (Note [bf16 products] in
   * src/tensor/autocast.ts). Absent: false.
   */
  bf16?: boolean;
}

/** NCHW pooling window: x (n, c, h, w) -> out (n, c, oh, ow). Padding counts as -inf (max) or is excluded (avg). */
export interface Pool2dParams {
  n: number;
  c: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
}

/** NCHW convolution: x (n, c, h, w), weight (oc, c, kh, kw), out (n, oc, oh, ow); the window is the kernel, and padding is zeros. */
export interface Conv2dParams extends Pool2dParams {
  oc: number;
}

// Note [attention layouts]
// A transformer's q, k and v are column blocks of one (B, T, 3D) projection, and its output
// projection reads (B, T, D). So the attention kernels take q, k and v as strided (B, H, T, hs)
// views (the last axis contiguous) and write y as (B, T, H, hs): no transposing copy on either
// side. They keep no (T, T) probabilities: the forward saves one log-sum-exp per query row and
// the backward recomputes the probabilities from q, k and it, as FlashAttention does.

/**
 * Scaled dot-product attention over every (batch, head) pair at once (Note [attention layouts]):
 * q is (B, H, tq, hs), element (b, h, t, d) at qOffset + b * qStrideB + h * qStrideH + t * qStrideT
 * + d, so views of a fused qkv projection are read in place; k and v are (B, H, tk, hs) likewise.
 * With `causal`, query t sees keys 0..t only (PyTorch's is_causal, aligned at the top left).
 */
export interface AttentionParams {
  batch: number;
  heads: number;
  tq: number;
  tk: number;
  headSize: number;
  /** Multiplies q·k before the softmax; positive (1 / sqrt(hs) in a transformer). */
  scale: number;
  causal: boolean;
  qOffset: number;
  qStrideB: number;
  qStrideH: number;
  qStrideT: number;
  kOffset: number;
  kStrideB: number;
  kStrideH: number;
  kStrideT: number;
  vOffset: number;
  vStrideB: number;
  vStrideH: number;
  vStrideT: number;
}

/** Output spatial size of a convolution or pooling window along one axis. */
export function outputSize(size: number, kernel: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - kernel) / stride) + 1;
}

export interface Backend {
  readonly name: string;

  // ---- dense linear algebra ------------------------------------------------------------------
  gemm(p: GemmParams, a: Float32Array, b: Float32Array, c: Float32Array): void;
  /**
   * gemm, then per element of each C_b: v = (C_b[i, j] + bias[j]) + residual[i, j], each add
   * rounded to float32 as the add kernel would; C_b[i, j] = act(v) as the unary kernel computes
   * it; derivative[i, j] = act'(v) (ReLU's is 0 at 0). bias (n elements),
   * residual and derivative may each be null; residual and derivative are laid out like c
   * (offsetC, strideC, ldc), and derivative must not overlap c. A Linear layer's forward in one
   * call: its bias, activation and residual add cost no pass over memory of their own.
   */
  gemmEpilogue(
    p: GemmParams, a: Float32Array, b: Float32Array, c: Float32Array,
    activation: Activation, bias: Float32Array | null, residual: Float32Array | null, derivative: Float32Array | null,
  ): void;

  // ---- element-wise ---------------------------------------------------------------------------
  /** out[i] = f(x[xOffset + i]) for i < n. */
  unary(op: UnaryOp, x: Float32Array, xOffset: number, out: Float32Array, n: number): void;
  /** gx[i] = gy[i] * f'(x[i]), given x and y = f(x) (each kernel uses whichever is cheaper). */
  unaryBackward(op: UnaryOp, x: Float32Array, y: Float32Array, gy: Float32Array, gx: Float32Array, n: number): void;
  /**
   * out (contiguous, `shape`) = a op b, where element i of out reads a at aOffset + sum(idx_d *
   * aStrides[d]) and likewise b. Broadcasting is a 0 stride. shape.length <= 8.
   */
  binary(
    op: BinaryOp,
    a: Float32Array, aOffset: number, aStrides: Int32Array,
    b: Float32Array, bOffset: number, bStrides: Int32Array,
    out: Float32Array, shape: Int32Array,
  ): void;
  /** out[i] = alpha * x[i] + beta (scalar affine map; covers x*s, x+s, 1-x). */
  affine(x: Float32Array, out: Float32Array, n: number, alpha: number, beta: number): void;
  /** out (contiguous, `shape`) = the strided view of x. shape.length <= 8. */
  copyStrided(x: Float32Array, xOffset: number, xStrides: Int32Array, out: Float32Array, shape: Int32Array): void;
  /**
   * Accumulates: dst[dstOffset + sum(idx_d * dstStrides[d])] += src[i] for every i of the
   * contiguous `shape`. 0 strides sum over broadcast axes (the backward of broadcasting, of
   * expand, of slicing and of transposes).
   */
  accumulateStrided(src: Float32Array, shape: Int32Array, dst: Float32Array, dstOffset: number, dstStrides: Int32Array): void;
  fill(x: Float32Array, offset: number, n: number, value: number): void;
  /** Accumulates: y[i] += alpha * x[i]. */
  axpy(alpha: number, x: Float32Array, y: Float32Array, n: number): void;
  /** sum(x[i]^2), accumulated in float64. */
  sumSquares(x: Float32Array, n: number): number;
  /** Reports whether any of x[0..n) is NaN or infinite. */
  hasNonFinite(x: Float32Array, n: number): boolean;

  // ---- reductions -----------------------------------------------------------------------------
  /** x viewed as (outer, n, inner): out[o, i] = reduce over j of x[o, j, i]. */
  reduce(op: ReduceOp, x: Float32Array, out: Float32Array, outer: number, n: number, inner: number): void;

  // ---- softmax family (rows x cols, over the last axis) ---------------------------------------
  softmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  logSoftmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  /** gx = y * (gy - sum(gy * y)), y = softmax(x). */
  softmaxBackward(y: Float32Array, gy: Float32Array, gx: Float32Array, rows: number, cols: number): void;
  /** gx = gy - exp(y) * sum(gy), y = logSoftmax(x). */
  logSoftmaxBackward(y: Float32Array, gy: Float32Array, gx: Float32Array, rows: number, cols: number): void;
  /**
   * Cross-entropy of logits (rows x cols) against class indices; rows whose target is negative
   * are ignored. Writes softmax probabilities to `probs` (for the backward) and returns the SUM
   * of the per-row losses (float64) over the rows not ignored.
   */
  crossEntropy(logits: Float32Array, targets: Int32Array, probs: Float32Array, rows: number, cols: number): number;
  /** gx[r, :] = scale * (probs[r, :] - onehot(targets[r])); ignored rows get 0. */
  crossEntropyBackward(probs: Float32Array, targets: Int32Array, gx: Float32Array, rows: number, cols: number, scale: number): void;

  // ---- attention (Note [attention layouts]) --------------------------------------------------
  /**
   * y = softmax(scale * q k^T, masked when causal) v, written as y (B, tq, H, hs) contiguous (the
   * layout an output projection reads as (B, tq, H * hs)), and the log-sum-exp of each row's
   * scaled scores as lse (B, H, tq), which is all the backward needs to rebuild the softmax.
   * With tk == 0 a row attends to nothing: y = 0, lse = -inf.
   */
  attention(p: AttentionParams, q: Float32Array, k: Float32Array, v: Float32Array, y: Float32Array, lse: Float32Array): void;
  /**
   * Gradients of attention from gy (the layout of y), given its y and lse: gq (B, H, tq, hs), gk
   * and gv (B, H, tk, hs), all contiguous and overwritten.
   */
  attentionBackward(
    p: AttentionParams, q: Float32Array, k: Float32Array, v: Float32Array, y: Float32Array, lse: Float32Array,
    gy: Float32Array, gq: Float32Array, gk: Float32Array, gv: Float32Array,
  ): void;

  // ---- normalisation --------------------------------------------------------------------------
  /** Per row of (rows, cols): out = (x - mean) * rstd * gamma + beta; saves mean and rstd (rows). gamma/beta may be null. */
  layerNorm(
    x: Float32Array, gamma: Float32Array | null, beta: Float32Array | null, out: Float32Array,
    mean: Float32Array, rstd: Float32Array, rows: number, cols: number, eps: number,
  ): void;
  /** Writes gx, and ggamma/gbeta when not null (overwritten, summed over rows). */
  layerNormBackward(
    x: Float32Array, gamma: Float32Array | null, mean: Float32Array, rstd: Float32Array, gy: Float32Array,
    gx: Float32Array, ggamma: Float32Array | null, gbeta: Float32Array | null, rows: number, cols: number,
  ): void;
  /**
   * x (n, c, hw). Training: normalises with the batch's statistics, writes them to mean/invstd
   * (c) and updates runningMean/runningVar in place (unbiased variance, momentum as in PyTorch).
   * Evaluation: normalises with the running statistics and leaves them alone.
   */
  batchNorm(
    x: Float32Array, gamma: Float32Array, beta: Float32Array, out: Float32Array, mean: Float32Array,
    invstd: Float32Array, runningMean: Float32Array, runningVar: Float32Array,
    n: number, c: number, hw: number, eps: number, momentum: number, training: boolean,
  ): void;
  /** Backward of batchNorm in training mode; writes gx, ggamma, gbeta. */
  batchNormBackward(
    x: Float32Array, gamma: Float32Array, mean: Float32Array, invstd: Float32Array, gy: Float32Array,
    gx: Float32Array, ggamma: Float32Array, gbeta: Float32Array, n: number, c: number, hw: number,
  ): void;

  // ---- convolution and pooling ----------------------------------------------------------------
  /** out = conv(x, weight) + bias (bias may be null). */
  conv2d(p: Conv2dParams, x: Float32Array, weight: Float32Array, bias: Float32Array | null, out: Float32Array): void;
  /** gx = gradient of conv2d with respect to x. */
  conv2dBackwardInput(p: Conv2dParams, gy: Float32Array, weight: Float32Array, gx: Float32Array): void;
  /** gw (and gb when not null) = gradients of conv2d with respect to weight and bias. */
  conv2dBackwardWeight(p: Conv2dParams, x: Float32Array, gy: Float32Array, gw: Float32Array, gb: Float32Array | null): void;
  /** Writes the max of each window and, in `argmax`, its flat index within the (h, w) plane. */
  maxPool2d(p: Pool2dParams, x: Float32Array, out: Float32Array, argmax: Int32Array): void;
  maxPool2dBackward(p: Pool2dParams, gy: Float32Array, argmax: Int32Array, gx: Float32Array): void;
  avgPool2d(p: Pool2dParams, x: Float32Array, out: Float32Array): void;
  avgPool2dBackward(p: Pool2dParams, gy: Float32Array, gx: Float32Array): void;

  // ---- indexing -------------------------------------------------------------------------------
  /** out[r, :] = table[index[r], :] for r < index.length; table is (tableRows, cols). Throws on an index out of range. */
  indexSelect(table: Float32Array, tableRows: number, index: Int32Array, out: Float32Array, cols: number): void;
  /** Accumulates: gtable[index[r], :] += g[r, :]. */
  indexAdd(g: Float32Array, index: Int32Array, gtable: Float32Array, cols: number): void;
  /** out[i] = 0 with probability p, else 1 / (1 - p); reproducible from (seed, i) alone. */
  dropoutMask(out: Float32Array, n: number, p: number, seed: number): void;

  // ---- fused optimizer steps (in place on param and state) -------------------------------------
  /** PyTorch's SGD: g += wd * p; buf = momentum * buf + (1 - dampening) * g (buf = g on step 1); p -= lr * (nesterov ? g + momentum * buf : buf). momentumBuf null when momentum == 0. */
  sgdStep(
    param: Float32Array, grad: Float32Array, momentumBuf: Float32Array | null, n: number,
    lr: number, momentum: number, dampening: number, weightDecay: number, nesterov: boolean, firstStep: boolean,
  ): void;
  /** Adam (decoupled=false: L2 added to the gradient) or AdamW (decoupled=true: p *= 1 - lr * wd). step counts from 1. */
  adamStep(
    param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number,
    lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, decoupled: boolean, step: number,
  ): void;
}

/** Names of all kernels, used to check at load time that a backend implements the whole table. */
export const KERNEL_NAMES = [
  "gemm", "gemmEpilogue", "unary", "unaryBackward", "binary", "affine", "copyStrided", "accumulateStrided", "fill", "axpy",
  "sumSquares", "hasNonFinite", "reduce", "softmax", "logSoftmax", "softmaxBackward", "logSoftmaxBackward",
  "crossEntropy", "crossEntropyBackward", "attention", "attentionBackward", "layerNorm", "layerNormBackward", "batchNorm", "batchNormBackward",
  "conv2d", "conv2dBackwardInput", "conv2dBackwardWeight", "maxPool2d", "maxPool2dBackward", "avgPool2d",
  "avgPool2dBackward", "indexSelect", "indexAdd", "dropoutMask", "sgdStep", "adamStep",
] as const satisfies readonly (keyof Omit<Backend, "name">)[];
