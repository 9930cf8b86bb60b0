// AVX-512 GEMM kernels: the AVX2 kernel's mirror at twice the width, a 12 x 32 micro-tile.
// Twenty-four zmm registers hold the sums, two the B row and one the broadcast A element.
#include <immintrin.h>

#include "f32-gemm.h"
#include "gemm-panels.h"

namespace weft {
namespace {

constexpr int kMr = 12;
constexpr int kNr = 32;

void microKernel(int k, const float* a, const float* b, float* c, ptrdiff_t ldc, float alpha, float beta) {
  __m512 acc[kMr][2];
  for (int r = 0; r < kMr; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int r = 0; r < kMr; ++r) _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
#pragma GCC unroll 2
  for (int l = 0; l < k; ++l) {
    const __m512 b0 = _mm512_load_ps(b);
    const __m512 b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 12
    for (int r = 0; r < kMr; ++r) {
      const __m512 x = _mm512_set1_ps(a[r]);
      acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
    }
    a += kMr;
    b += kNr;
  }
  const __m512 va = _mm512_set1_ps(alpha);
  if (beta == 0.0f) {
    for (int r = 0; r < kMr; ++r) {
      _mm512_storeu_ps(c + r * ldc, _mm512_mul_ps(va, acc[r][0]));
      _mm512_storeu_ps(c + r * ldc + 16, _mm512_mul_ps(va, acc[r][1]));
    }
  } else {
    const __m512 vb = _mm512_set1_ps(beta);
    for (int r = 0; r < kMr; ++r) {
      float* row = c + r * ldc;
      _mm512_storeu_ps(row, _mm512_fmadd_ps(vb, _mm512_loadu_ps(row), _mm512_mul_ps(va, acc[r][0])));
      _mm512_storeu_ps(row + 16, _mm512_fmadd_ps(vb, _mm512_loadu_ps(row + 16), _mm512_mul_ps(va, acc[r][1])));
    }
  }
}

}  // namespace

const GemmKernels& gemmKernels__avx512() {
  // kc * nr floats of B (32 KiB) fill L1 on AVX-512 parts with 48 KiB; mc * kc of A sit in L2.
  static const GemmKernels kernels{kMr, kNr, 144, 256, 2048, packAPanels<kMr>, packBPanels<kNr>,
                                   macroKernel<kMr, kNr, microKernel>};
  return kernels;
}

}  // namespace weft
