// AVX2 transforms of Winograd's F(4x4, 3x3) (Note [Winograd convolution] in conv2d-winograd.cc),
// one image per vector lane: every transform is plain vertical arithmetic on whole vectors, with no
// shuffles and no lanes wasted however small the image. The 36 intermediate vectors of a tile pass
// through a small stack array (L1) between the column and the row halves of each transform.
#include <immintrin.h>

#include <cstring>

#include "conv2d-kernels.h"
#include "kernels/f32-gemm/transpose-avx2.h"

namespace weft {

namespace {

constexpr int kLanes = 8;

//   B^T = [4  0 -5  0  1  0]   on (d0..d5), with p = d4 - 4 d2, q = d3 - 4 d1, r = d4 - d2, s = d3 - d1:
//         [0 -4 -4  1  1  0]   (p + q)
//         [0  4 -4 -1  1  0]   (p - q)
//         [0 -2 -1  2  1  0]   (r + 2 s)
//         [0  2 -1 -2  1  0]   (r - 2 s)
//         [0  4  0 -5  0  1]
inline void applyBT(const __m256 d[6], __m256 out[6]) {
  const __m256 two = _mm256_set1_ps(2.0f), four = _mm256_set1_ps(4.0f), five = _mm256_set1_ps(5.0f);
  const __m256 p = _mm256_fnmadd_ps(four, d[2], d[4]), q = _mm256_fnmadd_ps(four, d[1], d[3]);
  const __m256 r = _mm256_sub_ps(d[4], d[2]), s = _mm256_sub_ps(d[3], d[1]);
  out[0] = _mm256_fmadd_ps(four, d[0], _mm256_fnmadd_ps(five, d[2], d[4]));
  out[1] = _mm256_add_ps(p, q);
  out[2] = _mm256_sub_ps(p, q);
  out[3] = _mm256_fmadd_ps(two, s, r);
  out[4] = _mm256_fnmadd_ps(two, s, r);
  out[5] = _mm256_fmadd_ps(four, d[1], _mm256_fnmadd_ps(five, d[3], d[5]));
}

//   A^T = [1  1  1  1  1  0]   on (m0..m5), with a = m1 + m2, b = m1 - m2, c = m3 + m4, e = m3 - m4:
//         [0  1 -1  2 -2  0]   (b + 2 e)
//         [0  1  1  4  4  0]   (a + 4 c)
//         [0  1 -1  8 -8  1]   (b + 8 e + m5)
inline void applyAT(const __m256 m[6], __m256 out[4]) {
  const __m256 a = _mm256_add_ps(m[1], m[2]), b = _mm256_sub_ps(m[1], m[2]);
  const __m256 c = _mm256_add_ps(m[3], m[4]), e = _mm256_sub_ps(m[3], m[4]);
  out[0] = _mm256_add_ps(_mm256_add_ps(m[0], a), c);
  out[1] = _mm256_fmadd_ps(_mm256_set1_ps(2.0f), e, b);
  out[2] = _mm256_fmadd_ps(_mm256_set1_ps(4.0f), c, a);
  out[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.0f), e, b), m[5]);
}

// A (6 x 4), the transpose of A^T, on (g0..g3): (g0, e + f, e - f, e' + f', e' - f', g3) with
// e = g0 + g2, f = g1 + g3, e' = g0 + 4 g2, f' = 2 g1 + 8 g3.
inline void applyA(const __m256 g[4], __m256 out[6]) {
  const __m256 e = _mm256_add_ps(g[0], g[2]), f = _mm256_add_ps(g[1], g[3]);
  const __m256 e2 = _mm256_fmadd_ps(_mm256_set1_ps(4.0f), g[2], g[0]);
  const __m256 f2 = _mm256_fmadd_ps(_mm256_set1_ps(2.0f), g[1], _mm256_mul_ps(_mm256_set1_ps(8.0f), g[3]));
  out[0] = g[0];
  out[1] = _mm256_add_ps(e, f);
  out[2] = _mm256_sub_ps(e, f);
  out[3] = _mm256_add_ps(e2, f2);
  out[4] = _mm256_sub_ps(e2, f2);
  out[5] = g[3];
}

// Stores the first `count` (0..4) floats of v exactly.
inline void storePartial4(float* dst, __m128 v, int count) {
  if (count >= 4) return _mm_storeu_ps(dst, v);
  if (count >= 2) {
    _mm_storel_pi(reinterpret_cast<__m64*>(dst), v);
    v = _mm_movehl_ps(v, v);
    dst += 2;
    count -= 2;
  }
  if (count == 1) _mm_store_ss(dst, v);
}

void interleave(const float* const* src, int count, int channels, int h, int w, int top, int left, int gh, int gw,
                float* g) {
  const __m256 zero = _mm256_setzero_ps();
  const size_t rowFloats = static_cast<size_t>(gw) * kLanes;
  for (int ch = 0; ch < channels; ++ch) {
    // Zero only what the images do not cover: the rows above and below, and each row's margins.
    float* plane = g + static_cast<size_t>(ch) * gh * rowFloats;
    std::memset(plane, 0, sizeof(float) * top * rowFloats);
    std::memset(plane + (top + h) * rowFloats, 0, sizeof(float) * (gh - top - h) * rowFloats);
    for (int y = 0; y < h; ++y) {
      float* row = plane + (top + y) * rowFloats;
      std::memset(row, 0, sizeof(float) * left * kLanes);
      std::memset(row + (left + w) * kLanes, 0, sizeof(float) * (gw - left - w) * kLanes);
    }
    for (int y = 0; y < h; ++y) {
      const size_t offset = (static_cast<size_t>(ch) * h + y) * w;
      float* dst = g + ((static_cast<size_t>(ch) * gh + y + top) * gw + left) * kLanes;
      if (w < kLanes) {
        for (int x = 0; x < w; ++x)
          for (int l = 0; l < kLanes; ++l) dst[x * kLanes + l] = l < count ? src[l][offset + x] : 0.0f;
        continue;
      }
      // 8 x 8 blocks, the last one overlapping its neighbour (it writes the same values again).
      for (int x = 0;; x += kLanes) {
        if (x > w - kLanes) x = w - kLanes;
        __m256 v[kLanes];
        for (int l = 0; l < kLanes; ++l) v[l] = l < count ? _mm256_loadu_ps(src[l] + offset + x) : zero;
        transpose8x8(v, dst + x * kLanes, kLanes);
        if (x == w - kLanes) break;
      }
    }
  }
}

void inputTransform(const float* g, int channels, int gh, int gw, int tilesW, int ty0, int rows, float* v,
                    size_t xiStride, size_t ld, int n0, int nr, size_t panelStride) {
  for (int ch = 0; ch < channels; ++ch) {
    for (int ty = ty0; ty < ty0 + rows; ++ty) {
      for (int tx = 0; tx < tilesW; ++tx) {
        const float* window = g + ((static_cast<size_t>(ch) * gh + 4 * ty) * gw + 4 * tx) * kLanes;
        __m256 t[6][6];  // t[i][k] = (B^T d)[i][k]
        for (int k = 0; k < 6; ++k) {
          __m256 d[6], col[6];
          for (int r = 0; r < 6; ++r) d[r] = _mm256_loadu_ps(window + (r * gw + k) * kLanes);
          applyBT(d, col);
          for (int i = 0; i < 6; ++i) t[i][k] = col[i];
        }
        const int n = n0 + ((ty - ty0) * tilesW + tx) * kLanes;
        float* dst = nr > 0 ? v + n / nr * panelStride + ch * nr + n % nr : v + ch * ld + n;
        for (int i = 0; i < 6; ++i) {
          __m256 row[6];
          applyBT(t[i], row);  // (B^T d) B = rows of (B^T d) through B^T
          for (int j = 0; j < 6; ++j) _mm256_storeu_ps(dst + (6 * i + j) * xiStride, row[j]);
        }
      }
    }
  }
}

void outputTransform(const float* m, size_t xiStride, size_t ld, int oc, int tilesW, int ty0, int rows, int n0,
                     const float* bias, float* out, size_t imageStride, int count, int oh, int ow) {
  const size_t plane = static_cast<size_t>(oh) * ow;
  for (int o = 0; o < oc; ++o) {
    const __m256 b = bias != nullptr ? _mm256_set1_ps(bias[o]) : _mm256_setzero_ps();
    for (int ty = ty0; ty < ty0 + rows; ++ty) {
      for (int tx = 0; tx < tilesW; ++tx) {
        const float* src = m + o * ld + n0 + ((ty - ty0) * tilesW + tx) * kLanes;
        __m256 s[4][6];  // s[a][k] = (A^T m)[a][k]
        for (int k = 0; k < 6; ++k) {
          __m256 col[6], res[4];
          for (int i = 0; i < 6; ++i) col[i] = _mm256_loadu_ps(src + (6 * i + k) * xiStride);
          applyAT(col, res);
          for (int a = 0; a < 4; ++a) s[a][k] = res[a];
        }
        const int cols = ow - 4 * tx < 4 ? ow - 4 * tx : 4;
        for (int a = 0; a < 4 && 4 * ty + a < oh; ++a) {
          __m256 y[4];
          applyAT(s[a], y);
          for (int c = 0; c < 4; ++c) y[c] = _mm256_add_ps(y[c], b);
          // Four outputs of eight images: transpose to one 4-float row per image.
          const __m256 t0 = _mm256_unpacklo_ps(y[0], y[1]), t1 = _mm256_unpackhi_ps(y[0], y[1]);
          const __m256 t2 = _mm256_unpacklo_ps(y[2], y[3]), t3 = _mm256_unpackhi_ps(y[2], y[3]);
          const __m256 r[4] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xee),
                               _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xee)};
          float* dst = out + o * plane + (4 * ty + a) * ow + 4 * tx;
          if (count == kLanes && cols == 4) {  // the common case, without a branch per image
            for (int l = 0; l < 4; ++l) {
              _mm_storeu_ps(dst + l * imageStride, _mm256_castps256_ps128(r[l]));
              _mm_storeu_ps(dst + (l + 4) * imageStride, _mm256_extractf128_ps(r[l], 1));
            }
            continue;
          }
          for (int l = 0; l < count; ++l) {
            const __m128 row = l < 4 ? _mm256_castps256_ps128(r[l]) : _mm256_extractf128_ps(r[l - 4], 1);
            storePartial4(dst + l * imageStride, row, cols);
          }
        }
      }
    }
  }
}

void gradientTransform(const float* g, int oc, int gh, int gw, int tilesW, int ty0, int rows, float* d,
                       size_t xiStride, size_t ld, int n0) {
  for (int o = 0; o < oc; ++o) {
    for (int ty = ty0; ty < ty0 + rows; ++ty) {
      for (int tx = 0; tx < tilesW; ++tx) {
        const float* window = g + ((static_cast<size_t>(o) * gh + 4 * ty) * gw + 4 * tx) * kLanes;
        __m256 u[6][4];  // u[i][c] = (A dY)[i][c]
        for (int c = 0; c < 4; ++c) {
          __m256 col[4], res[6];
          for (int a = 0; a < 4; ++a) col[a] = _mm256_loadu_ps(window + (a * gw + c) * kLanes);
          applyA(col, res);
          for (int i = 0; i < 6; ++i) u[i][c] = res[i];
        }
        float* dst = d + o * ld + n0 + ((ty - ty0) * tilesW + tx) * kLanes;
        for (int i = 0; i < 6; ++i) {
          __m256 row[6];
          applyA(u[i], row);  // (A dY) A^T = rows of (A dY) through A
          for (int j = 0; j < 6; ++j) _mm256_storeu_ps(dst + (6 * i + j) * xiStride, row[j]);
        }
      }
    }
  }
}

}  // namespace

const WinogradKernels& winogradKernels__avx2fma() {
  static const WinogradKernels kernels{interleave, inputTransform, outputTransform, gradientTransform};
  return kernels;
}

}  // namespace weft
