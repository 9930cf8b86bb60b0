// Mixed precision as PyTorch's autocast does it on CPUs: inside a scope, matrix products round
// their two operands to bfloat16, while everything else (parameters, gradients, optimizer state,
// sums, softmax, normalisation, losses) stays float32.
//
// Note [bf16 products]
// Under autocast("bf16"), matmul and linear hand GEMM their operands with `bf16: true`
// (GemmParams.bf16): every element of A and B is rounded to bf16 (nearest, ties to even), each
// product of two bf16 values is exact in float32 (8 x 8 significant bits), and the sums are
// float32 sums. The result, the bias, activation and residual of a fused epilogue, and every
// gradient are float32; so the weights a model keeps are float32 "master weights" and need no
// copy. A product's backward uses the precision its forward ran under, wherever backward() is
// called, as PyTorch's does: the two gradient GEMMs round their operands (the incoming gradient
// and the saved input or weight) to bf16 too. bf16 keeps float32's exponent range, so unlike
// float16 it needs no loss scaling; a step with a non-finite loss still fails as it does in
// float32. Not covered: the fused attention kernel and convolutions multiply in float32.
//
// The native GEMM computes the bf16 product on AMX tiles or AVX512-BF16 dot products where the
// CPU has them, and otherwise by rounding the operands and running the float32 GEMM, which is
// the same product but a little slower than float32 itself (native/kernels/bf16-gemm/bf16-gemm.h).
// So the command line's --precision bf16 trains in float32 on a CPU without either (bf16Hardware
// in src/backend/index.ts), while this scope always means bf16: its numbers are the same
// on every machine, up to float32 rounding.

/** The element type matrix products multiply in: float32, or bfloat16 operands with float32 sums. */
export type Precision = "f32" | "bf16";

/** The precisions autocast accepts, for messages and option tables. */
export const PRECISIONS: readonly Precision[] = ["f32", "bf16"];

let current: Precision = "f32";

/** Whether a matrix product made now rounds its operands to bf16 (Note [bf16 products]). */
export function productsInBf16(): boolean {
  return current === "bf16";
}

/** The precision matrix products made now use. */
export function currentPrecision(): Precision {
  return current;
}

/**
 * Runs `fn` with matrix products (matmul, linear and the layers built on them) in `precision`,
 * then restores the precision before it (Note [bf16 products]). An `fn` returning a promise keeps
 * the scope until the promise settles, for everything that runs meanwhile: use that for a whole
 * training loop in a process of its own, the plain form for one forward.
 *
 * @param precision "bf16" rounds each product's operands to bfloat16 and sums in float32; "f32" is plain float32
 * @param fn the forward pass (or any code) to run under it
 * @returns what `fn` returns
 * @example a bf16 product: close to float32's, not equal to it, and its gradient in bf16 too
 * ```ts
 * import { autocast, matmul, sum, tensor } from "weft";
 *
 * const a = tensor(Array.from({ length: 8 * 64 }, (_, i) => Math.sin(i)), [8, 64], { requiresGrad: true });
 * const b = tensor(Array.from({ length: 64 * 8 }, (_, i) => Math.cos(i)), [64, 8]);
 * const full = matmul(a, b).toArray();
 * const mixed = autocast("bf16", () => matmul(a, b));
 * const err = Math.max(...mixed.toArray().map((v, i) => Math.abs(v - full[i]!)));
 * assert.ok(err > 0 && err < 0.1, `bf16 error ${err}`);
 * sum(mixed).backward(); // outside the scope, yet its products round to bf16 as the forward's did
 * assert.equal(a.grad!.dtype, "float32");
 * ```
 */
export function autocast<T>(precision: Precision, fn: () => T): T {
  if (!PRECISIONS.includes(precision)) {
    throw new RangeError(`autocast: precision ${JSON.stringify(precision)} is not one of ${PRECISIONS.join(", ")}; pass "bf16" or "f32"`);
  }
  const previous = current;
  current = precision;
  let result: T;
  try {
    result = fn();
  } catch (err) {
    current = previous;
    throw err;
  }
  if (result instanceof Promise) {
    return result.finally(() => {
      current = previous;
    }) as T;
  }
  current = previous;
  return result;
}
