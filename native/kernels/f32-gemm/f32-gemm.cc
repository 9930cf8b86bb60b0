// The GEMM driver (Note [gemm blocking]) and the choice of kernels for the active instruction set.
#include "f32-gemm.h"

#include <algorithm>

#include "cpu.h"
#include "scratch.h"

namespace weft {

const GemmKernels& activeGemmKernels() {
  switch (activeIsa()) {
    case Isa::Avx512: return gemmKernels__avx512();
    case Isa::Avx2Fma: return gemmKernels__avx2fma();
    default: return gemmKernels__scalar();
  }
}

namespace {

// All of B packed and one row block of C in three quarters of a 512 KiB L2, the rest left to
// the block of A (Note [small B, row blocks outermost]).
constexpr size_t kSmallBBytes = 384 * 1024;

// C = beta * C for the degenerate products (k == 0 or alpha == 0), where A and B are not read.
void scaleC(int m, int n, float beta, float* c, ptrdiff_t ldc) {
  for (int i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    if (beta == 0.0f) std::fill(row, row + n, 0.0f);
    else if (beta != 1.0f) for (int j = 0; j < n; ++j) row[j] *= beta;
  }
}

}  // namespace

void applyGemmEpilogue(const GemmEpilogue& e, int i0, int j0, int rows, int cols, float* c, ptrdiff_t ldc) {
  const ptrdiff_t at = i0 * ldc + j0;
  f32Epilogue().apply(e.activation, e.bias ? e.bias + j0 : nullptr, e.residual ? e.residual + at : nullptr,
                      e.derivative ? e.derivative + at : nullptr, c + at, rows, cols, ldc);
}

void gemmStrided(const GemmKernels& g, MatrixView a, MatrixView b, int m, int n, int k, float alpha, float beta,
                 float* c, ptrdiff_t ldc, const GemmEpilogue* epilogue) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) {
    scaleC(m, n, beta, c, ldc);
    if (epilogue) applyGemmEpilogue(*epilogue, 0, 0, m, n, c, ldc);
    return;
  }
  const int kcMax = std::min(k, g.kc);
  // Depth blocks of equal size (k = 512 in two of 256 rather than 384 + 128 with kc = 384...):
  // the last block is not a short one that pays a whole pass over C for little work.
  const int depthBlocks = (k + g.kc - 1) / g.kc;
  const int kcStep = (k + depthBlocks - 1) / depthBlocks;
  float* packedA = scratchFloats(ScratchSlot::GemmPackedA, packedSize(std::min(m, g.mc), kcMax, g.mr));
  // Note [small B, row blocks outermost]: when all of B, packed, fits in L2 beside a row block
  // of C (a layer's weight: k x n up to 512 x 128), it is packed once, and each row block of C
  // takes every depth block in turn while it stays in L2. The usual order (depth blocks outside
  // row blocks) streams all of a tall C through memory once per depth block: for the 4096-row
  // products of a transformer's projections with k = 384 or 512, two or three times, not once.
  const size_t panelsB = packedSize(n, kcStep, g.nr);
  const size_t blockC = static_cast<size_t>(g.mc) * n;
  if (depthBlocks > 1 && n <= g.nc && m > g.mc && (panelsB * depthBlocks + blockC) * sizeof(float) <= kSmallBBytes) {
    float* packedB = scratchFloats(ScratchSlot::GemmPackedB, panelsB * depthBlocks);
    for (int pc = 0, block = 0; pc < k; pc += kcStep, ++block) {
      g.packB({b.data + pc * b.rowStride, b.rowStride, b.colStride}, std::min(kcStep, k - pc), n, packedB + block * panelsB);
    }
    for (int ic = 0; ic < m; ic += g.mc) {
      const int mc = std::min(g.mc, m - ic);
      for (int pc = 0, block = 0; pc < k; pc += kcStep, ++block) {
        const int kc = std::min(kcStep, k - pc);
        g.packA({a.data + ic * a.rowStride + pc * a.colStride, a.rowStride, a.colStride}, mc, kc,
                static_cast<size_t>(g.mr) * kc, packedA);
        g.macroKernel(mc, n, kc, alpha, packedA, packedB + block * panelsB, pc == 0 ? beta : 1.0f, c + ic * ldc, ldc);
      }
      if (epilogue) applyGemmEpilogue(*epilogue, ic, 0, mc, n, c, ldc);
    }
    return;
  }
  float* packedB = scratchFloats(ScratchSlot::GemmPackedB, packedSize(std::min(n, g.nc), kcMax, g.nr));
  for (int jc = 0; jc < n; jc += g.nc) {
    const int nc = std::min(g.nc, n - jc);
    for (int pc = 0; pc < k; pc += kcStep) {
      const int kc = std::min(kcStep, k - pc);
      g.packB({b.data + pc * b.rowStride + jc * b.colStride, b.rowStride, b.colStride}, kc, nc, packedB);
      // Later depth blocks add to what the first one wrote.
      const float betaNow = pc == 0 ? beta : 1.0f;
      for (int ic = 0; ic < m; ic += g.mc) {
        const int mc = std::min(g.mc, m - ic);
        g.packA({a.data + ic * a.rowStride + pc * a.colStride, a.rowStride, a.colStride}, mc, kc,
                static_cast<size_t>(g.mr) * kc, packedA);
        g.macroKernel(mc, nc, kc, alpha, packedA, packedB, betaNow, c + ic * ldc + jc, ldc);
        // This block of C is final once the last depth block is in (Note [gemm epilogue]).
        if (epilogue && pc + kc == k) applyGemmEpilogue(*epilogue, ic, jc, mc, nc, c, ldc);
      }
    }
  }
}

void weft_f32_gemm(bool transA, bool transB, int m, int n, int k, float alpha, const float* a, int lda,
                   const float* b, int ldb, float beta, float* c, int ldc, const GemmEpilogue* epilogue) {
  MatrixView av = transA ? MatrixView{a, 1, lda} : MatrixView{a, lda, 1};
  MatrixView bv = transB ? MatrixView{b, 1, ldb} : MatrixView{b, ldb, 1};
  gemmStrided(activeGemmKernels(), av, bv, m, n, k, alpha, beta, c, ldc, epilogue);
}

}  // namespace weft
