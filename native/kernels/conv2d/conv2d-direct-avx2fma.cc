// Direct stride-1 convolution for few taps (Note [direct convolution] in conv2d-kernels.h),
// instantiated for each tap count up to kMaxTaps so that the per-tap vectors live in registers.
#include <immintrin.h>


#include "conv2d-kernels.h"

namespace weft {

namespace {

constexpr int kMaxTaps = 11;  // backward: taps + 1 sums, the gradient and an input vector in 16 registers

// Calls body(x0) for x0 = 0, 8, ..., and last ow - 8 (overlapping the previous group; needs ow >= 8).
template <typename Body>
inline void forEachGroup(int ow, Body body) {
  for (int x0 = 0;; x0 += kDirectLanes) {
    if (x0 > ow - kDirectLanes) x0 = ow - kDirectLanes;
    body(x0);
    if (x0 == ow - kDirectLanes) return;
  }
}

template <int T>
void forward(const float* image, int pw, const int32_t* tapOffset, int oh, int ow, const float* weight,
             const float* bias, int oc, float* out) {
  const size_t plane = static_cast<size_t>(oh) * ow;
  for (int y = 0; y < oh; ++y) {
    forEachGroup(ow, [&](int x0) {
      __m256 xv[T];
      for (int t = 0; t < T; ++t) xv[t] = _mm256_loadu_ps(image + tapOffset[t] + y * pw + x0);
      float* dst = out + y * ow + x0;
      // Two output channels at a time: two independent chains of FMAs.
      int o = 0;
      for (; o + 2 <= oc; o += 2) {
        const float* w0 = weight + o * T;
        const float* w1 = w0 + T;
        __m256 a0 = bias ? _mm256_set1_ps(bias[o]) : _mm256_setzero_ps();
        __m256 a1 = bias ? _mm256_set1_ps(bias[o + 1]) : _mm256_setzero_ps();
        for (int t = 0; t < T; ++t) {
          a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(w0 + t), xv[t], a0);
          a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(w1 + t), xv[t], a1);
        }
        _mm256_storeu_ps(dst + o * plane, a0);
        _mm256_storeu_ps(dst + (o + 1) * plane, a1);
      }
      if (o < oc) {
        __m256 a0 = bias ? _mm256_set1_ps(bias[o]) : _mm256_setzero_ps();
        for (int t = 0; t < T; ++t) a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(weight + o * T + t), xv[t], a0);
        _mm256_storeu_ps(dst + o * plane, a0);
      }
    });
  }
}

template <int T>
void backwardWeight(const float* image, int pw, const int32_t* tapOffset, int oh, int ow, const float* gy, int oc,
                    float* acc) {
  const int full = ow / kDirectLanes * kDirectLanes;
  const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32(ow - full), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  for (int o = 0; o < oc; ++o) {
    float* sums = acc + static_cast<size_t>(o) * (T + 1) * kDirectLanes;
    __m256 a[T + 1];
    for (int t = 0; t <= T; ++t) a[t] = _mm256_loadu_ps(sums + t * kDirectLanes);
    const float* g = gy + static_cast<size_t>(o) * oh * ow;
    for (int y = 0; y < oh; ++y, g += ow) {
      const float* row = image + y * pw;
      for (int x0 = 0; x0 < full; x0 += kDirectLanes) {
        const __m256 gv = _mm256_loadu_ps(g + x0);
        a[T] = _mm256_add_ps(a[T], gv);
        for (int t = 0; t < T; ++t) a[t] = _mm256_fmadd_ps(gv, _mm256_loadu_ps(row + tapOffset[t] + x0), a[t]);
      }
      if (full < ow) {
        // Masked loads: lanes past the row read nothing (a NaN there must not meet a zero).
        const __m256 gv = _mm256_maskload_ps(g + full, tail);
        a[T] = _mm256_add_ps(a[T], gv);
        for (int t = 0; t < T; ++t) a[t] = _mm256_fmadd_ps(gv, _mm256_maskload_ps(row + tapOffset[t] + full, tail), a[t]);
      }
    }
    for (int t = 0; t <= T; ++t) _mm256_storeu_ps(sums + t * kDirectLanes, a[t]);
  }
}

template <int... Ts>
struct Table {
  static void forwardAny(const float* image, int pw, const int32_t* tapOffset, int taps, int oh, int ow,
                         const float* weight, const float* bias, int oc, float* out) {
    ((taps == Ts ? forward<Ts>(image, pw, tapOffset, oh, ow, weight, bias, oc, out) : void()), ...);
  }
  static void backwardWeightAny(const float* image, int pw, const int32_t* tapOffset, int taps, int oh, int ow,
                                const float* gy, int oc, float* acc) {
    ((taps == Ts ? backwardWeight<Ts>(image, pw, tapOffset, oh, ow, gy, oc, acc) : void()), ...);
  }
};

using Direct = Table<1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11>;

}  // namespace

const ConvDirectKernels& convDirectKernels__avx2fma() {
  static const ConvDirectKernels kernels{kMaxTaps, Direct::forwardAny, Direct::backwardWeightAny};
  return kernels;
}

}  // namespace weft
