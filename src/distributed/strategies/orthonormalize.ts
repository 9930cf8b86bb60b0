// Gram-Schmidt on the few columns of a tall matrix: PowerSGD's orthogonalisation of P after its
// all-reduce (powersgd-hook.ts). QR would do the same, but P has R columns (a handful) and
// hundreds of rows, where Gram-Schmidt is R² passes over the matrix and nothing else.
//
// Plain TypeScript on purpose: every rank orthogonalises the same all-reduced P, and must get the
// same bits (Note [identical gradients] in grad-hook.ts). JavaScript's float64 arithmetic, with
// one rounding to float32 per stored element, is the same on every machine and every CPU, which a
// kernel chosen by instruction set would not promise.

/**
 * Makes the `cols` columns of the `rows` x `cols` row-major matrix at `a[offset...]` orthonormal,
 * in place (modified Gram-Schmidt: each column loses its projection on the earlier ones, then is
 * scaled to length 1). A column that is exactly zero after that stays zero: it adds nothing to
 * the span, and dividing it would make NaN.
 *
 * @example Two columns become orthonormal
 * ```ts
 * const a = Float32Array.of(3, 1,
 *                           4, 1);   // columns (3, 4) and (1, 1)
 * orthonormalizeColumns(a, 0, 2, 2);
 * assert.deepEqual([a[0], a[2]], [0.6000000238418579, 0.800000011920929]);   // (3, 4) / 5
 * assert.ok(Math.abs(a[0]! * a[1]! + a[2]! * a[3]!) < 1e-7);                    // orthogonal, to float32's rounding
 * assert.ok(Math.abs(a[1]! ** 2 + a[3]! ** 2 - 1) < 1e-6);                     // unit length
 * ```
 */
export function orthonormalizeColumns(a: Float32Array, offset: number, rows: number, cols: number): void {
  // In float64 throughout, rounded to float32 once at the end: a column that nearly lies in the
  // span of the earlier ones loses most of its length, and float32 intermediates would leave
  // its rounding errors, magnified by that loss, in the result's orthogonality.
  const x = Float64Array.from(a.subarray(offset, offset + rows * cols));
  for (let c = 0; c < cols; c++) {
    for (let p = 0; p < c; p++) {
      let dot = 0;
      for (let i = 0; i < rows; i++) dot += x[i * cols + c]! * x[i * cols + p]!;
      for (let i = 0; i < rows; i++) x[i * cols + c] = x[i * cols + c]! - dot * x[i * cols + p]!;
    }
    let sq = 0;
    for (let i = 0; i < rows; i++) sq += x[i * cols + c]! ** 2;
    const norm = Math.sqrt(sq);
    if (norm === 0) continue;
    for (let i = 0; i < rows; i++) x[i * cols + c] = x[i * cols + c]! / norm;
  }
  a.set(x, offset);
}
