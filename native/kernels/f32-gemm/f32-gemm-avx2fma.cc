// AVX2 + FMA GEMM kernels: a 6 x 16 micro-tile. Twelve ymm registers hold the sums, two the
// current row of the B panel and one the broadcast element of A: 15 of the 16 registers, and
// 12 FMAs per 8 loads, so the two FMA pipes (not the load ports) set the pace.
#include <immintrin.h>

#include "f32-gemm.h"
#include "gemm-panels.h"
#include "transpose-avx2.h"

namespace weft {
namespace {

constexpr int kMr = 6;
constexpr int kNr = 16;

void microKernel(int k, const float* a, const float* b, float* c, ptrdiff_t ldc, float alpha, float beta) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int r = 0; r < kMr; ++r) _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
#pragma GCC unroll 4
  for (int l = 0; l < k; ++l) {
    const __m256 b0 = _mm256_load_ps(b);
    const __m256 b1 = _mm256_load_ps(b + 8);
    __m256 x = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(x, b0, c00);
    c01 = _mm256_fmadd_ps(x, b1, c01);
    x = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(x, b0, c10);
    c11 = _mm256_fmadd_ps(x, b1, c11);
    x = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(x, b0, c20);
    c21 = _mm256_fmadd_ps(x, b1, c21);
    x = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(x, b0, c30);
    c31 = _mm256_fmadd_ps(x, b1, c31);
    x = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(x, b0, c40);
    c41 = _mm256_fmadd_ps(x, b1, c41);
    x = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(x, b0, c50);
    c51 = _mm256_fmadd_ps(x, b1, c51);
    a += kMr;
    b += kNr;
  }
  const __m256 va = _mm256_set1_ps(alpha);
  // Row by row, the sums named one by one: an array of them here makes the compiler spill all
  // twelve registers and copy them, which costs as much as a short product.
  if (beta == 0.0f) {
    auto store = [&](float* row, __m256 lo, __m256 hi) {
      _mm256_storeu_ps(row, _mm256_mul_ps(va, lo));
      _mm256_storeu_ps(row + 8, _mm256_mul_ps(va, hi));
    };
    store(c, c00, c01);
    store(c + ldc, c10, c11);
    store(c + 2 * ldc, c20, c21);
    store(c + 3 * ldc, c30, c31);
    store(c + 4 * ldc, c40, c41);
    store(c + 5 * ldc, c50, c51);
  } else {
    const __m256 vb = _mm256_set1_ps(beta);
    auto update = [&](float* row, __m256 lo, __m256 hi) {
      _mm256_storeu_ps(row, _mm256_fmadd_ps(vb, _mm256_loadu_ps(row), _mm256_mul_ps(va, lo)));
      _mm256_storeu_ps(row + 8, _mm256_fmadd_ps(vb, _mm256_loadu_ps(row + 8), _mm256_mul_ps(va, hi)));
    };
    update(c, c00, c01);
    update(c + ldc, c10, c11);
    update(c + 2 * ldc, c20, c21);
    update(c + 3 * ldc, c30, c31);
    update(c + 4 * ldc, c40, c41);
    update(c + 5 * ldc, c50, c51);
  }
}

// Row-major A (the common, untransposed operand) is transposed eight columns at a time; other
// layouts and partial panels take the portable path.
void packA(MatrixView a, int m, int k, size_t panelStride, float* out) {
  if (a.colStride != 1) return packAPanels<kMr>(a, m, k, panelStride, out);
  const int full = m / kMr * kMr;
  for (int i0 = 0; i0 < full; i0 += kMr) {
    float* panel = out + static_cast<size_t>(i0 / kMr) * panelStride;
    const float* rows = a.data + i0 * a.rowStride;
    int l = 0;
    for (; l + 8 <= k; l += 8) {
      __m256 v[kMr];
      for (int r = 0; r < kMr; ++r) v[r] = _mm256_loadu_ps(rows + r * a.rowStride + l);
      transpose6x8(v, panel + l * kMr);
    }
    for (; l < k; ++l) {
      for (int r = 0; r < kMr; ++r) panel[l * kMr + r] = rows[r * a.rowStride + l];
    }
  }
  if (full < m) {
    packAPanels<kMr>({a.data + full * a.rowStride, a.rowStride, 1}, m - full, k, panelStride,
                     out + static_cast<size_t>(full / kMr) * panelStride);
  }
}

// A transposed B (rowStride 1: each column is contiguous, as in x * W^T) is transposed 8 x 8 at a
// time; other layouts and partial panels take the portable path.
void packB(MatrixView b, int k, int n, float* out) {
  if (b.rowStride != 1) return packBPanels<kNr>(b, k, n, out);
  const int full = n / kNr * kNr;
  for (int j0 = 0; j0 < full; j0 += kNr) {
    float* panel = out + static_cast<size_t>(j0) * k;
    for (int half = 0; half < kNr; half += 8) {
      const float* cols = b.data + (j0 + half) * b.colStride;
      int l = 0;
      for (; l + 8 <= k; l += 8) {
        __m256 v[8];
        for (int j = 0; j < 8; ++j) v[j] = _mm256_loadu_ps(cols + j * b.colStride + l);
        transpose8x8(v, panel + l * kNr + half, kNr);
      }
      for (; l < k; ++l) {
        for (int j = 0; j < 8; ++j) panel[l * kNr + half + j] = cols[j * b.colStride + l];
      }
    }
  }
  if (full < n) packBPanels<kNr>({b.data + full * b.colStride, 1, b.colStride}, k, n - full, out + static_cast<size_t>(full) * k);
}

}  // namespace

const GemmKernels& gemmKernels__avx2fma() {
  // kc * nr floats of B (12 KiB) take 3/8 of L1; mc * kc of A (108 KiB) sit in L2. kc 192
  // rather than 256: 1-5% faster on the weight gradients (k = 4096 tokens), the same elsewhere
  // (node dist/bench/dense-kernels.js, 2026-12-03).
  static const GemmKernels kernels{kMr, kNr, 144, 192, 2048, packA, packB,
                                   macroKernel<kMr, kNr, microKernel>};
  return kernels;
}

}  // namespace weft
