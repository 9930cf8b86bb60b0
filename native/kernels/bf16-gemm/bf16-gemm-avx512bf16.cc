// bf16 GEMM on AVX512-BF16 (Note [bf16 gemm paths] in bf16-gemm.h): a 12 x 32 micro-tile of C in
// 24 zmm sums. VDPBF16PS takes, in each 32-bit lane, a pair of bf16 values from each source and
// adds both products to that lane's float32 sum; so A is packed as pairs of consecutive depth
// steps of one row (broadcast to every lane), and B as the same pair of depth steps for each of
// 32 columns (two registers of 16 lanes). 24 sums, two B registers and one broadcast use 27 of
// the 32 registers, and 24 independent sums hide the instruction's latency.
#include <immintrin.h>

#include <cstring>

#include "bf16-gemm-layouts.h"
#include "bf16-gemm-tiled.h"

namespace weft {
namespace {

struct DotProductKernel : DotProductLayout {
  struct Session {};

  static void tile(int depth, const uint16_t* a, const uint16_t* b, float* acc) {
    __m512 sum[kMr][2];
    for (int r = 0; r < kMr; ++r) sum[r][0] = sum[r][1] = _mm512_setzero_ps();
    for (int p = 0; p < depth / 2; ++p, a += 2 * kMr, b += 2 * kNr) {
      const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b);
      const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + 32);
      for (int r = 0; r < kMr; ++r) {
        int32_t pair;
        std::memcpy(&pair, a + 2 * r, sizeof pair);
        const __m512bh ar = (__m512bh)_mm512_set1_epi32(pair);
        sum[r][0] = _mm512_dpbf16_ps(sum[r][0], ar, b0);
        sum[r][1] = _mm512_dpbf16_ps(sum[r][1], ar, b1);
      }
    }
    for (int r = 0; r < kMr; ++r) {
      _mm512_store_ps(acc + r * kNr, sum[r][0]);
      _mm512_store_ps(acc + r * kNr + 16, sum[r][1]);
    }
  }
};

}  // namespace

void weft_bf16_gemm__avx512bf16(const Bf16GemmCall& call) { bf16GemmTiled<DotProductKernel>(call); }

}  // namespace weft
