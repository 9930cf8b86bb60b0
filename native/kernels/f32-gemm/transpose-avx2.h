// 8 x 8 transposes of floats in AVX2 registers, for the AVX2 files only (internal linkage: see
// gemm-panels.h on why nothing compiled with -mavx2 may be shared across instruction sets).
#pragma once
#include <immintrin.h>

#include <cstddef>

namespace weft {
namespace {

// An 8 x 8 block transposed: rows v[0..8) become columns, stored as 8 rows of `ld` stride.
inline void transpose8x8(const __m256 v[8], float* dst, ptrdiff_t ld) {
  const __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]), t1 = _mm256_unpackhi_ps(v[0], v[1]);
  const __m256 t2 = _mm256_unpacklo_ps(v[2], v[3]), t3 = _mm256_unpackhi_ps(v[2], v[3]);
  const __m256 t4 = _mm256_unpacklo_ps(v[4], v[5]), t5 = _mm256_unpackhi_ps(v[4], v[5]);
  const __m256 t6 = _mm256_unpacklo_ps(v[6], v[7]), t7 = _mm256_unpackhi_ps(v[6], v[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xee);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xee);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xee);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xee);
  _mm256_storeu_ps(dst + 0 * ld, _mm256_permute2f128_ps(s0, s4, 0x20));
  _mm256_storeu_ps(dst + 1 * ld, _mm256_permute2f128_ps(s1, s5, 0x20));
  _mm256_storeu_ps(dst + 2 * ld, _mm256_permute2f128_ps(s2, s6, 0x20));
  _mm256_storeu_ps(dst + 3 * ld, _mm256_permute2f128_ps(s3, s7, 0x20));
  _mm256_storeu_ps(dst + 4 * ld, _mm256_permute2f128_ps(s0, s4, 0x31));
  _mm256_storeu_ps(dst + 5 * ld, _mm256_permute2f128_ps(s1, s5, 0x31));
  _mm256_storeu_ps(dst + 6 * ld, _mm256_permute2f128_ps(s2, s6, 0x31));
  _mm256_storeu_ps(dst + 7 * ld, _mm256_permute2f128_ps(s3, s7, 0x31));
}

// Eight columns of six rows, transposed: writes dst[c * 6 + r] = rows[r][c] for c < 8, r < 6. The
// first seven columns are stored 8 floats wide (the two extra are overwritten by the next column);
// the last is stored exactly, so nothing past dst[47] is touched.
inline void transpose6x8(const __m256 v[6], float* dst) {
  const __m256 zero = _mm256_setzero_ps();
  const __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]), t1 = _mm256_unpackhi_ps(v[0], v[1]);
  const __m256 t2 = _mm256_unpacklo_ps(v[2], v[3]), t3 = _mm256_unpackhi_ps(v[2], v[3]);
  const __m256 t4 = _mm256_unpacklo_ps(v[4], v[5]), t5 = _mm256_unpackhi_ps(v[4], v[5]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xee);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xee);
  const __m256 s4 = _mm256_shuffle_ps(t4, zero, 0x44), s5 = _mm256_shuffle_ps(t4, zero, 0xee);
  const __m256 s6 = _mm256_shuffle_ps(t5, zero, 0x44), s7 = _mm256_shuffle_ps(t5, zero, 0xee);
  _mm256_storeu_ps(dst + 0, _mm256_permute2f128_ps(s0, s4, 0x20));
  _mm256_storeu_ps(dst + 6, _mm256_permute2f128_ps(s1, s5, 0x20));
  _mm256_storeu_ps(dst + 12, _mm256_permute2f128_ps(s2, s6, 0x20));
  _mm256_storeu_ps(dst + 18, _mm256_permute2f128_ps(s3, s7, 0x20));
  _mm256_storeu_ps(dst + 24, _mm256_permute2f128_ps(s0, s4, 0x31));
  _mm256_storeu_ps(dst + 30, _mm256_permute2f128_ps(s1, s5, 0x31));
  _mm256_storeu_ps(dst + 36, _mm256_permute2f128_ps(s2, s6, 0x31));
  const __m256 last = _mm256_permute2f128_ps(s3, s7, 0x31);
  _mm_storeu_ps(dst + 42, _mm256_castps256_ps128(last));
  _mm_storel_pi(reinterpret_cast<__m64*>(dst + 46), _mm256_extractf128_ps(last, 1));
}

}  // namespace
}  // namespace weft
