// AVX2 transforms of Winograd's F(2x2, 3x3) (Note [Winograd convolution] in conv2d-winograd.cc).
// Eight tiles of one tile row per vector: the 4x4 windows of consecutive tiles start two columns
// apart, so each input row of 16 (+2) floats splits into the even and odd columns of 8 windows.
// Rows of fewer than 8 tiles compute garbage in the spare lanes, which is never stored where it
// counts; rows of more than 8 end with a group overlapping the previous one.
#include <immintrin.h>

#include "conv2d-kernels.h"

namespace weft {

namespace {

constexpr int kLanes = 8;

// Calls body(tx0) for tx0 = 0, 8, ..., with the last group ending at tilesW (when tilesW > 8).
template <typename Body>
inline void forEachGroup(int tilesW, Body body) {
  if (tilesW <= kLanes) return body(0);
  for (int tx0 = 0;; tx0 += kLanes) {
    if (tx0 > tilesW - kLanes) tx0 = tilesW - kLanes;
    body(tx0);
    if (tx0 == tilesW - kLanes) return;
  }
}

// The even and odd elements of 16 consecutive floats, in order.
inline void splitEvenOdd(__m256 a, __m256 b, __m256* even, __m256* odd) {
  *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xd8));
  *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xdd)), 0xd8));
}

// Stores the first `count` (0..8) floats of v, exactly: the floats after them may belong to a
// row already written. (Through registers: a round trip through memory would stall on store
// forwarding.)
inline void storePartial(float* dst, __m256 v, int count) {
  if (count >= 8) return _mm256_storeu_ps(dst, v);
  __m128 part = _mm256_castps256_ps128(v);
  if (count >= 4) {
    _mm_storeu_ps(dst, part);
    part = _mm256_extractf128_ps(v, 1);
    dst += 4;
    count -= 4;
  }
  if (count >= 2) {
    _mm_storel_pi(reinterpret_cast<__m64*>(dst), part);
    part = _mm_movehl_ps(part, part);
    dst += 2;
    count -= 2;
  }
  if (count == 1) _mm_store_ss(dst, part);
}

// Stores the first `count` (<= 16) floats of the interleaving of even and odd.
inline void storeInterleaved(float* dst, __m256 even, __m256 odd, int count) {
  const __m256 lo = _mm256_unpacklo_ps(even, odd), hi = _mm256_unpackhi_ps(even, odd);
  storePartial(dst, _mm256_permute2f128_ps(lo, hi, 0x20), count);
  if (count > 8) storePartial(dst + 8, _mm256_permute2f128_ps(lo, hi, 0x31), count - 8);
}

void inputTransform(const float* image, int channels, size_t channelStride, int pw, int tilesW, int ty0, int rows,
                    float* v, size_t xiStride, size_t ld, int n0) {
  for (int ch = 0; ch < channels; ++ch) {
    const float* plane = image + ch * channelStride;
    float* dst = v + ch * ld + n0;
    for (int ty = ty0; ty < ty0 + rows; ++ty, dst += tilesW) {
      forEachGroup(tilesW, [&](int tx0) {
        // e[r][k] = (d B)[r][k] for the four input rows r of the windows.
        __m256 e[4][4];
        for (int r = 0; r < 4; ++r) {
          const float* p = plane + (2 * ty + r) * pw + 2 * tx0;
          __m256 d0, d1, d2, d3;
          splitEvenOdd(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), &d0, &d1);
          splitEvenOdd(_mm256_loadu_ps(p + 2), _mm256_loadu_ps(p + 10), &d2, &d3);
          e[r][0] = _mm256_sub_ps(d0, d2);
          e[r][1] = _mm256_add_ps(d1, d2);
          e[r][2] = _mm256_sub_ps(d2, d1);
          e[r][3] = _mm256_sub_ps(d1, d3);
        }
        float* out = dst + tx0;
        for (int k = 0; k < 4; ++k) {
          _mm256_storeu_ps(out + (0 * 4 + k) * xiStride, _mm256_sub_ps(e[0][k], e[2][k]));
          _mm256_storeu_ps(out + (1 * 4 + k) * xiStride, _mm256_add_ps(e[1][k], e[2][k]));
          _mm256_storeu_ps(out + (2 * 4 + k) * xiStride, _mm256_sub_ps(e[2][k], e[1][k]));
          _mm256_storeu_ps(out + (3 * 4 + k) * xiStride, _mm256_sub_ps(e[1][k], e[3][k]));
        }
      });
    }
  }
}

void outputTransform(const float* m, size_t xiStride, size_t ld, int oc, int tilesW, int ty0, int rows, int n0,
                     const float* bias, float* out, int oh, int ow) {
  for (int o = 0; o < oc; ++o) {
    const float* src = m + o * ld + n0;
    float* plane = out + static_cast<size_t>(o) * oh * ow;
    const __m256 b = bias != nullptr ? _mm256_set1_ps(bias[o]) : _mm256_setzero_ps();
    for (int ty = ty0; ty < ty0 + rows; ++ty, src += tilesW) {
      forEachGroup(tilesW, [&](int tx0) {
        // s[a][k] = (A^T m)[a][k]
        __m256 s[2][4];
        for (int k = 0; k < 4; ++k) {
          const __m256 m0 = _mm256_loadu_ps(src + tx0 + (0 * 4 + k) * xiStride);
          const __m256 m1 = _mm256_loadu_ps(src + tx0 + (1 * 4 + k) * xiStride);
          const __m256 m2 = _mm256_loadu_ps(src + tx0 + (2 * 4 + k) * xiStride);
          const __m256 m3 = _mm256_loadu_ps(src + tx0 + (3 * 4 + k) * xiStride);
          const __m256 mid = _mm256_sub_ps(m1, m2);
          s[0][k] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
          s[1][k] = _mm256_sub_ps(mid, m3);
        }
        const int count = ow - 2 * tx0 < 16 ? ow - 2 * tx0 : 16;
        for (int a = 0; a < 2 && 2 * ty + a < oh; ++a) {
          const __m256 y0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s[a][0], s[a][1]), s[a][2]), b);
          const __m256 y1 = _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(s[a][1], s[a][2]), s[a][3]), b);
          storeInterleaved(plane + (2 * ty + a) * ow + 2 * tx0, y0, y1, count);
        }
      });
    }
  }
}

void gradientTransform(const float* gy, int oc, int oh, int ow, int tilesW, int ty0, int rows, float* d,
                       size_t xiStride, size_t ld, int n0) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const float* end = gy + static_cast<size_t>(oc) * oh * ow;
  for (int o = 0; o < oc; ++o) {
    const float* plane = gy + static_cast<size_t>(o) * oh * ow;
    float* dst = d + o * ld + n0;
    for (int ty = ty0; ty < ty0 + rows; ++ty, dst += tilesW) {
      forEachGroup(tilesW, [&](int tx0) {
        // Columns 2 tx0 .. 2 tx0 + 15 of output rows 2 ty and 2 ty + 1; outside the plane, 0.
        const int valid = ow - 2 * tx0;
        const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), lane);
        const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(valid - 8), lane);
        __m256 g[2][2];  // g[a][b]: row 2 ty + a, column parity b
        for (int a = 0; a < 2; ++a) {
          if (2 * ty + a >= oh) {
            g[a][0] = g[a][1] = _mm256_setzero_ps();
            continue;
          }
          const float* p = plane + (2 * ty + a) * ow + 2 * tx0;
          // Plain loads where they stay inside gy (cheaper than masked ones), then the columns
          // past the row cleared bit-wise (so whatever was read there, even NaN, becomes 0).
          const bool inside = p + 16 <= end;
          const __m256 lo = inside ? _mm256_and_ps(_mm256_loadu_ps(p), _mm256_castsi256_ps(m0)) : _mm256_maskload_ps(p, m0);
          const __m256 hi = inside ? _mm256_and_ps(_mm256_loadu_ps(p + 8), _mm256_castsi256_ps(m1)) : _mm256_maskload_ps(p + 8, m1);
          splitEvenOdd(lo, hi, &g[a][0], &g[a][1]);
        }
        // q[i][b] = (A dY)[i][b], then D[i] = q[i] A^T = (q0, q0 + q1, q0 - q1, -q1).
        const __m256 zero = _mm256_setzero_ps();
        __m256 q[4][2];
        for (int b = 0; b < 2; ++b) {
          q[0][b] = g[0][b];
          q[1][b] = _mm256_add_ps(g[0][b], g[1][b]);
          q[2][b] = _mm256_sub_ps(g[0][b], g[1][b]);
          q[3][b] = _mm256_sub_ps(zero, g[1][b]);
        }
        float* out = dst + tx0;
        for (int i = 0; i < 4; ++i) {
          _mm256_storeu_ps(out + (i * 4 + 0) * xiStride, q[i][0]);
          _mm256_storeu_ps(out + (i * 4 + 1) * xiStride, _mm256_add_ps(q[i][0], q[i][1]));
          _mm256_storeu_ps(out + (i * 4 + 2) * xiStride, _mm256_sub_ps(q[i][0], q[i][1]));
          _mm256_storeu_ps(out + (i * 4 + 3) * xiStride, _mm256_sub_ps(zero, q[i][1]));
        }
      });
    }
  }
}

}  // namespace

const WinogradKernels& winogradKernels__avx2fma() {
  static const WinogradKernels kernels{inputTransform, outputTransform, gradientTransform};
  return kernels;
}

}  // namespace weft
