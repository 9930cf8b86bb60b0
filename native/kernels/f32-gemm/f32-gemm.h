// Single-precision GEMM, row-major: C = alpha * op(A) * op(B) + beta * C, where op(A) is m x k
// and op(B) is k x n. With transA, A is stored k x m (leading dimension lda >= m); likewise B.
// beta == 0 overwrites C without reading it (NaNs in C do not leak through).
//
// Note [gemm blocking]: the GEMM is the classic packed, cache-blocked loop nest (Goto; BLIS):
//   for each column block of C (nc wide)
//     for each depth block (kc deep): pack B's kc x nc block into nr-wide panels   (stays in L3/L2)
//       for each row block of C (mc tall): pack A's mc x kc block into mr-tall panels (stays in L2)
//         macro-kernel: every mr x nr tile of C += A panel * B panel        (B panel stays in L1)
// (When all of B fits in L2, the row blocks go outermost instead: Note [small B, row blocks
// outermost] in f32-gemm.cc.) Only packing and the macro-kernel depend on the instruction set,
// so each ISA file provides those (GemmKernels) and one driver (f32-gemm.cc) serves them all.
// Convolutions reuse the same pieces to pack im2col columns straight into B panels and to pack
// a weight once per call.
//
// Note [gemm epilogue]: a Linear layer's bias, activation and residual add are applied by the
// driver to each mc x nc block of C right after its last depth block is accumulated, while the
// block (at most 144 x 2048 floats, usually 144 x n) is still in L2. A separate pass would read
// and write all of C from memory once more per operation: for the tiny GPT's MLP (4096 x 512)
// that is 8 MB each way, and GELU's derivative, needed by the backward, comes out of the same
// exp as GELU itself. The micro-kernels stay as they were: the epilogue is one more pass over
// cached data, not code inside the register tile, so every micro-kernel serves every epilogue.
#pragma once
#include <cstddef>

#include "kernels/f32-epilogue/f32-epilogue.h"

namespace weft {

// A matrix operand seen through strides: element (i, j) is data[i * rowStride + j * colStride].
// A transposed operand is the same memory with the two strides swapped.
struct MatrixView {
  const float* data;
  ptrdiff_t rowStride;
  ptrdiff_t colStride;
};

// The instruction-set specific pieces of the GEMM (Note [gemm blocking]).
struct GemmKernels {
  int mr, nr;      // micro-tile: the kernel keeps mr x nr sums of C in registers
  int mc, kc, nc;  // cache blocks (mc a multiple of mr, nc a multiple of nr)
  // Packs the m x k block `a` into ceil(m / mr) panels; panel p holds rows [p*mr, p*mr + mr)
  // as out[p*panelStride + l*mr + r], rows past m zero (any m and k; the driver keeps to mc x kc,
  // which fits the caches). A panelStride
  // larger than mr*k packs `a` as columns of a deeper block (the rest packed by other calls).
  void (*packA)(MatrixView a, int m, int k, size_t panelStride, float* out);
  // Packs the k x n block `b` into ceil(n / nr) panels; panel p holds columns [p*nr, p*nr + nr)
  // as out[p*nr*k + l*nr + j], columns past n zero (any n and k).
  void (*packB)(MatrixView b, int k, int n, float* out);
  // C[m x n] = alpha * packedA * packedB + beta * C (beta == 0: C is not read).
  void (*macroKernel)(int m, int n, int k, float alpha, const float* packedA, const float* packedB, float beta,
                      float* c, ptrdiff_t ldc);
};

const GemmKernels& gemmKernels__scalar();
const GemmKernels& gemmKernels__avx2fma();
const GemmKernels& gemmKernels__avx512();
// The kernels of the active instruction set (weft::activeIsa()).
const GemmKernels& activeGemmKernels();

// Floats needed for packing an m x k operand with panels `tile` wide (rounded up to whole panels).
inline size_t packedSize(int rowsOrCols, int depth, int tile) {
  return static_cast<size_t>((rowsOrCols + tile - 1) / tile) * tile * static_cast<size_t>(depth);
}

// The epilogue on C's block of rows [i0, i0 + rows) and columns [j0, j0 + cols), once that block
// holds its final sums (the bf16 GEMM's driver calls it too).
void applyGemmEpilogue(const GemmEpilogue& e, int i0, int j0, int rows, int cols, float* c, ptrdiff_t ldc);

// C = alpha * A * B + beta * C with strided operands, on the given kernels, then the epilogue
// when one is given (Note [gemm epilogue]; its residual and derivative have C's row stride).
void gemmStrided(const GemmKernels& kernels, MatrixView a, MatrixView b, int m, int n, int k, float alpha, float beta,
                 float* c, ptrdiff_t ldc, const GemmEpilogue* epilogue = nullptr);

// The BLAS-style entry point on the active instruction set.
void weft_f32_gemm(bool transA, bool transB, int m, int n, int k, float alpha, const float* a, int lda,
                   const float* b, int ldb, float beta, float* c, int ldc, const GemmEpilogue* epilogue = nullptr);

}  // namespace weft
